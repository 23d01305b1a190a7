//! Reading an input file with a bound: regular files only, never more than a limit, never a
//! hang.
//!
//! The size a file had when it was listed says nothing about what a read returns: a file can
//! grow while it is read, `/proc` files claim 0 bytes, `/dev/zero` never ends and a FIFO blocks
//! until a writer comes. So the path is checked before opening (a device is never even
//! opened: opening some has side effects), opened without blocking, checked again on the
//! open descriptor (the path may have been swapped in between), and read to at most the
//! limit plus one byte.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;

use crate::error::io_reason;

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening, inspecting or reading failed.
    #[error("{}", io_reason(.0))]
    Io(#[from] io::Error),
    /// Not a regular file: a folder, FIFO, device or socket.
    #[error("{0}")]
    NotRegular(&'static str),
    /// Larger than the limit (by its size, or by what a read returned).
    #[error(
        "file is {size} bytes, more than any image within the decode limit (--max-pixels) can take"
    )]
    TooLarge {
        /// The file's size, or at least how much was there to read.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The process could not get the memory to hold the file (an address-space limit such as
    /// `ulimit -v`, or memory exhausted).
    #[error(
        "not enough memory to read the file's {bytes} bytes (a memory limit such as ulimit -v?)"
    )]
    OutOfMemory {
        /// The bytes asked for.
        bytes: u64,
    },
    /// The size was within the limit when checked, but reading returned more (the file grew,
    /// or it is a `/proc`-like file whose size says nothing).
    #[error("file gave more than {limit} bytes while being read (growing, or not an ordinary file); the limit comes from --max-pixels")]
    GrewPastLimit {
        /// The limit.
        limit: u64,
    },
}

/// What a non-regular file is, in words (`None` for a regular file).
pub fn kind_of(meta: &Metadata) -> Option<&'static str> {
    let ft = meta.file_type();
    if ft.is_file() {
        return None;
    }
    if ft.is_dir() {
        return Some("is a folder, not a file");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return Some("is a FIFO (named pipe), not a regular file");
        }
        if ft.is_char_device() {
            return Some("is a character device, not a regular file");
        }
        if ft.is_block_device() {
            return Some("is a block device, not a regular file");
        }
        if ft.is_socket() {
            return Some("is a socket, not a regular file");
        }
    }
    Some("is not a regular file")
}

/// Opens `path` for reading without blocking (a FIFO swapped in after the check opens at once
/// instead of waiting for a writer) and without making a terminal the controlling one.
fn open_nonblocking(path: &Path) -> io::Result<File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    opts.open(path)
}

/// Reads the whole of `path`, which must be a regular file of at most `max_bytes` bytes.
///
/// Anything else fails: a folder, FIFO, device or socket (given directly, reached through a
/// link, or swapped in after listing), a file larger than `max_bytes`, and a file that yields
/// more than `max_bytes` while being read. At most `max_bytes + 1` bytes are ever read.
pub fn read_input(path: &Path, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
    match read_input_admitted(path, max_bytes, &mut |_| true)? {
        Some(bytes) => Ok(bytes),
        // `admit` above never refuses.
        None => Err(ReadError::Io(io::Error::other("read was not admitted"))),
    }
}

/// [`read_input`], asking `admit` for the file's size (from the open descriptor, within
/// `max_bytes`) before any byte is read or any buffer allocated: `Ok(None)` when `admit` says
/// no (the memory budget is taken; nothing was read, the file is closed again).
pub fn read_input_admitted(
    path: &Path,
    max_bytes: u64,
    admit: &mut dyn FnMut(u64) -> bool,
) -> Result<Option<Vec<u8>>, ReadError> {
    // Checked on the path first so that a device is never opened.
    let before = std::fs::metadata(path)?;
    if let Some(kind) = kind_of(&before) {
        return Err(ReadError::NotRegular(kind));
    }
    let file = open_nonblocking(path)?;
    // And on the open descriptor: what is read is what was checked.
    let meta = file.metadata()?;
    if let Some(kind) = kind_of(&meta) {
        return Err(ReadError::NotRegular(kind));
    }
    if meta.len() > max_bytes {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            limit: max_bytes,
        });
    }
    if !admit(meta.len()) {
        return Ok(None);
    }
    // Capacity from the size the file claims, which is within the limit here; one more byte
    // so that a file exactly at its size needs no second allocation to see the end.
    // Asked for fallibly: a file within every limit can still be more than the process may
    // map (ulimit -v); that fails this file, not the process.
    let want = meta.len().saturating_add(1);
    let mut bytes = Vec::new();
    usize::try_from(want)
        .ok()
        .and_then(|n| bytes.try_reserve_exact(n).ok())
        .ok_or(ReadError::OutOfMemory { bytes: want })?;
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(ReadError::GrewPastLimit { limit: max_bytes });
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_file_within_the_limit() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a");
        std::fs::write(&p, b"12345").unwrap();
        assert_eq!(read_input(&p, 5).unwrap(), b"12345");
        assert!(matches!(
            read_input(&p, 4),
            Err(ReadError::TooLarge { size: 5, limit: 4 })
        ));
    }

    #[test]
    fn a_folder_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let e = read_input(t.path(), 100).unwrap_err();
        assert_eq!(e.to_string(), "is a folder, not a file");
    }

    #[test]
    fn a_missing_file_is_named_in_words() {
        let e = read_input(Path::new("/nonexistent/x.png"), 100).unwrap_err();
        assert_eq!(e.to_string(), "no such file or folder");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn devices_are_refused_without_reading() {
        for dev in ["/dev/zero", "/dev/urandom", "/dev/null"] {
            let e = read_input(Path::new(dev), 1 << 20).unwrap_err();
            assert!(e.to_string().contains("character device"), "{dev}: {e}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_that_claims_zero_bytes_but_gives_more_is_cut_at_the_limit() {
        // /proc files are regular files of size 0 whose reads return text.
        let e = read_input(Path::new("/proc/self/maps"), 16).unwrap_err();
        assert!(matches!(e, ReadError::GrewPastLimit { limit: 16 }), "{e}");
    }

    #[cfg(unix)]
    fn fifo(dir: &Path, name: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        p
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_waiting_for_a_writer() {
        let t = tempfile::tempdir().unwrap();
        let p = fifo(t.path(), "pipe.png");
        let e = read_input(&p, 100).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_swapped_in_after_the_check_does_not_block() {
        // The descriptor check: opening a FIFO with O_NONBLOCK returns at once.
        let t = tempfile::tempdir().unwrap();
        let p = fifo(t.path(), "pipe");
        let f = open_nonblocking(&p).unwrap();
        assert!(kind_of(&f.metadata().unwrap()).is_some());
    }
}
