//! Error types shared across the crate and the wording of I/O failures.

use std::io;
use std::path::PathBuf;

/// The stage of the pipeline where a file failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Reading the file's bytes.
    Read,
    /// Decoding them to pixels.
    Decode,
    /// Gray conversion and threshold.
    Process,
    /// Encoding the result.
    Encode,
    /// Writing the output file.
    Write,
}

impl Stage {
    /// All stages in pipeline order.
    pub const ALL: [Stage; 5] = [
        Stage::Read,
        Stage::Decode,
        Stage::Process,
        Stage::Encode,
        Stage::Write,
    ];

    /// The stage's lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Read => "read",
            Stage::Decode => "decode",
            Stage::Process => "process",
            Stage::Encode => "encode",
            Stage::Write => "write",
        }
    }

    /// Position in [`Stage::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// One file that could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{}: {reason}", input.display())]
pub struct FileError {
    /// The input file.
    pub input: PathBuf,
    /// The stage that failed (absent for files that could not even be listed).
    pub stage: Option<Stage>,
    /// What went wrong, in words.
    pub reason: String,
}

/// A short, human wording of an I/O error (`std::io::Error`'s own text carries an `os error N`
/// suffix that helps nobody).
pub fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or folder".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::IsADirectory => "is a folder, not a file".into(),
        io::ErrorKind::StorageFull => "no space left on device".into(),
        io::ErrorKind::ReadOnlyFilesystem => "read-only file system".into(),
        io::ErrorKind::FileTooLarge => "file too large for the file system".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(i) => s[..i].to_string(),
                None => s,
            }
        }
    }
}
