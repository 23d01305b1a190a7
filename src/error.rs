//! Error types shared across the crate and the wording of I/O failures.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

/// The stages live in the pipeline ([`crate::pipeline::Stage`]); this path stays for callers
/// that named it here.
pub use crate::pipeline::Stage;

/// One file that could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{}: {}", printable_path(input), printable(reason))]
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

/// Whether `c` must not reach a terminal as is: control characters (a newline could fake an
/// extra error line, ESC starts terminal sequences), line and paragraph separators, and the
/// bidirectional overrides that reorder what is shown.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `s` made safe for one line of a terminal: `\n`, `\r`, `\t`, and `\\` for a backslash (so
/// that the text stays unambiguous), as written in Rust; every other control or bidirectional
/// character as `\u{..}`. Unchanged (and not copied) when nothing needs it.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c == '\\' || needs_escape(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A path for an error line: lossy for bytes that are not UTF-8 (shown as U+FFFD; the
/// `--report` JSON keeps the exact bytes), control characters escaped as by [`printable`].
pub fn printable_path(p: &Path) -> String {
    printable(&p.to_string_lossy()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_fake_lines_or_terminal_sequences() {
        assert_eq!(printable("plain name.png"), "plain name.png");
        assert_eq!(
            printable("a.png: ok\ngraypipe: error: b.png"),
            "a.png: ok\\ngraypipe: error: b.png"
        );
        assert_eq!(printable("x\u{1b}[2Jy\r\t"), "x\\u{1b}[2Jy\\r\\t");
        assert_eq!(printable("back\\slash"), "back\\\\slash");
        assert_eq!(printable("rtl\u{202e}gnp.exe"), "rtl\\u{202e}gnp.exe");
        assert_eq!(printable("del\u{7f}c1\u{85}"), "del\\u{7f}c1\\u{85}");
        assert!(!printable("\u{2028}").contains('\u{2028}'));
    }
}
