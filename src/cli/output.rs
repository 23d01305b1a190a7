//! Writing to standard output and standard error without panicking: `println!` panics when the
//! reader has gone (`graypipe run ... --dry-run | head -1`), `eprintln!` when stderr is a closed
//! pipe. A closed standard output ends that output quietly, as other Unix tools do.

use std::io::{self, Write};

/// Writes `text` to standard output and flushes it. `Ok(false)` when the reader has gone
/// (broken pipe): the caller stops printing, quietly. Other errors are returned.
pub fn stdout_text(text: &str) -> io::Result<bool> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e),
    }
}

/// Prints `text` on standard output for a command whose whole result it is: exit status 0
/// when written or when the reader went away (quietly, as other Unix tools), 1 with a message
/// when the write failed otherwise (a full disk, an I/O error).
pub fn print_or_fail(text: &str) -> i32 {
    match stdout_text(text) {
        Ok(_) => super::EXIT_OK,
        Err(e) => {
            stderr_line(&format!(
                "graypipe: error: cannot write to standard output: {}",
                graypipe::error::io_reason(&e)
            ));
            super::EXIT_FAILED
        }
    }
}

/// Writes `text` to standard error; a failure is ignored (there is nowhere left to say it).
pub fn stderr_text(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// Writes one line to standard error; a failure is ignored.
pub fn stderr_line(line: &str) {
    let mut err = io::stderr().lock();
    let _ = err
        .write_all(line.as_bytes())
        .and_then(|()| err.write_all(b"\n"));
}

/// Lets a file-size limit (`ulimit -f`, RLIMIT_FSIZE) fail the one write that passes it with
/// EFBIG ("file too large") instead of killing the whole process with SIGXFSZ.
pub fn ignore_file_size_signal() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler code; it is done
    // once at start, before any thread that could race on it exists.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}
