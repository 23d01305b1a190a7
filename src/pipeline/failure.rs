//! Why one file failed, typed: [`Failure`]. Its Display is the `reason` the report records, so
//! callers can match on what went wrong while the words stay the same.

use crate::atomic_write::WriteError;
use crate::codec::{DecodeError, EncodeError};
use crate::input::ReadError;
use crate::ops::SizeMismatch;

/// Why one file failed in one stage.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The input could not be read (missing, not a regular file, too large, an I/O error).
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The input's bytes alone are more than the whole memory budget.
    #[error(
        "file is {size} bytes, more than the whole memory budget of {budget} bytes (--max-memory)"
    )]
    OverBudget {
        /// The file's size.
        size: u64,
        /// The budget.
        budget: u64,
    },
    /// The input grew past the whole memory budget while being read.
    #[error("file gave more than {budget} bytes while being read, more than the whole memory budget (--max-memory)")]
    GrewPastBudget {
        /// The budget.
        budget: u64,
    },
    /// The bytes are no picture graypipe can decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The decoded picture's size did not match its samples (a graypipe bug).
    #[error("internal error: {0}; please report it")]
    Size(#[from] SizeMismatch),
    /// The result could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The output could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// An object storage request failed (after its retries): the words say why.
    #[error("{0}")]
    Remote(String),
    /// Refused by the memory budget, or graypipe itself went wrong (a panic, a stage handed
    /// the wrong data): the words say which.
    #[error("{0}")]
    Other(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{stages, Settings};

    #[test]
    fn stage_failures_are_typed_and_keep_their_words() {
        let settings = Settings::default();
        let e = stages::read("/nonexistent/x.png".as_ref(), &settings.limits).unwrap_err();
        assert!(matches!(e, Failure::Read(_)), "{e:?}");
        assert_eq!(e.to_string(), "no such file or folder");
        let e = stages::decode(b"", &settings).unwrap_err();
        assert!(matches!(e, Failure::Decode(DecodeError::Empty)), "{e:?}");
        assert_eq!(e.to_string(), "empty file (0 bytes)");
        let t = tempfile::tempdir().unwrap();
        let e = stages::write(t.path(), b"x", None, &Default::default()).unwrap_err();
        assert!(matches!(e, Failure::Write(_)), "{e:?}");
    }
}
