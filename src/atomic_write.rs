//! Writing a file so that it appears whole or not at all.
//!
//! On Linux the bytes go into an unnamed file in the target folder (`O_TMPFILE`), which is
//! given its name only once complete (`linkat`): if the process dies at any moment (a panic,
//! SIGKILL) nothing is left behind, not even a temporary file, and it costs one directory update
//! instead of two. An existing output is replaced by a named temporary file renamed over it
//! (cheaper than linking an unnamed file under a temporary name and then renaming it).
//! Elsewhere, or on file systems without `O_TMPFILE`, a named temporary file is renamed into
//! place; one a killed process leaves is removed by a later run ([`remove_stale_temps`]).
//!
//! The promise is about the process, not the machine: nothing is fsynced, so after a power loss
//! or a kernel crash an output may be empty or missing, as for any program that does not fsync
//! (one fsync per file would cost more than converting a small picture).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::io_reason;

/// Prefix of every temporary name graypipe gives; folder walks skip such files. The full
/// name is `.graypipe-<pid>-<unique>.tmp`, so that a later run can tell a file left by a
/// killed process from one being written right now (see [`remove_stale_temps`]).
pub const TEMP_PREFIX: &str = ".graypipe-";

/// Removes the temporary files that a graypipe process killed while writing (SIGKILL, power
/// loss) left in `dir`, and only those: named `.graypipe-<pid>-<unique>.tmp`, regular files
/// owned by the current user, last modified before `before` (this run's start), and whose
/// process `<pid>` no longer exists. Returns how many were removed; errors are ignored (a
/// file that cannot be removed stays, as before).
pub fn remove_stale_temps(dir: &Path, before: std::time::SystemTime) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_owner) else {
            continue;
        };
        if process_alive(pid) {
            continue;
        }
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        let old = meta.modified().is_ok_and(|m| m < before);
        if meta.file_type().is_file() && old && owned_by_me(&meta) {
            removed += usize::from(std::fs::remove_file(entry.path()).is_ok());
        }
    }
    removed
}

/// The pid in a temporary name `.graypipe-<pid>-<unique>.tmp`.
fn temp_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(TEMP_PREFIX)?.strip_suffix(".tmp")?;
    let (pid, unique) = rest.split_once('-')?;
    if unique.is_empty() || unique.contains('/') || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok().filter(|&p| p > 0 && p <= i32::MAX as u32)
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(not(unix))]
fn process_alive(_: u32) -> bool {
    true
}

#[cfg(unix)]
fn owned_by_me(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    meta.uid() == unsafe { libc::geteuid() }
}

#[cfg(not(unix))]
fn owned_by_me(_: &std::fs::Metadata) -> bool {
    false
}

/// Why an output could not be written; the Display is the reason a report records.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The output's folder could not be created.
    #[error("cannot create folder {}: {}", .dir.display(), io_reason(.source))]
    CreateFolder {
        /// The folder.
        dir: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
    /// A folder stands where the output goes.
    #[error("output {} is an existing folder", .path.display())]
    ExistingFolder {
        /// The output.
        path: PathBuf,
    },
    /// Writing, linking or renaming failed.
    #[error("cannot write {}: {}", .path.display(), io_reason(.source))]
    Io {
        /// The output.
        path: PathBuf,
        /// What the file system said.
        source: io::Error,
    },
}

impl WriteError {
    /// The I/O error behind it, if any.
    pub fn io(&self) -> Option<&io::Error> {
        match self {
            WriteError::CreateFolder { source, .. } | WriteError::Io { source, .. } => Some(source),
            WriteError::ExistingFolder { .. } => None,
        }
    }
}

/// Writes `bytes` to `path` atomically, creating the folder if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<u64, WriteError> {
    write_atomic_known(path, bytes, None)
}

/// [`write_atomic`] when the caller already knows whether something stands at `path` (a
/// batch's plan looked once per output folder), which saves a `stat` per file. The knowledge
/// only picks the cheaper way: if it is out of date the write is still atomic and correct.
pub fn write_atomic_known(
    path: &Path,
    bytes: &[u8],
    exists: Option<bool>,
) -> Result<u64, WriteError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match attempt(dir, path, bytes, exists) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // The folder usually exists: only create it when the first attempt says so.
            std::fs::create_dir_all(dir).map_err(|source| WriteError::CreateFolder {
                dir: dir.to_path_buf(),
                source,
            })?;
            attempt(dir, path, bytes, exists)
        }
        other => other,
    }
    .map(|_| bytes.len() as u64)
    .map_err(|e| describe(path, e))
}

/// The ways of writing one output that the per-file cost study (`examples/write_schemes.rs`,
/// `tools/per_file_cost.py`) compares. [`write_atomic`] uses [`WriteScheme::Chosen`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteScheme {
    /// What [`write_atomic`] does: [`WriteScheme::Unnamed`] for a new output,
    /// [`WriteScheme::NamedTemp`] to replace one.
    Chosen,
    /// `O_TMPFILE` + `linkat` (Linux): one directory update, nothing left if the process dies.
    Unnamed,
    /// A named `.graypipe-*.tmp` file renamed over the output: two directory updates.
    NamedTemp,
    /// Create-or-truncate and write in place, as `cv2.imwrite` does. **Not atomic** (a reader or
    /// a crash can see a partial file): the baseline only, never used by graypipe.
    InPlaceNotAtomic,
}

impl WriteScheme {
    /// Every scheme, for the study.
    pub const ALL: [WriteScheme; 4] = [
        WriteScheme::Chosen,
        WriteScheme::Unnamed,
        WriteScheme::NamedTemp,
        WriteScheme::InPlaceNotAtomic,
    ];
}

/// Writes `bytes` to `path` (whose folder exists) with one scheme. For the study; graypipe's
/// outputs go through [`write_atomic`].
pub fn write_with(scheme: WriteScheme, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match scheme {
        WriteScheme::Chosen => attempt(dir, path, bytes, None),
        WriteScheme::Unnamed => {
            #[cfg(target_os = "linux")]
            {
                if let Some(done) = linux::write_unnamed(dir, path, bytes) {
                    return done;
                }
            }
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no O_TMPFILE on this system or file system",
            ))
        }
        WriteScheme::NamedTemp => write_named_temp(dir, path, bytes),
        WriteScheme::InPlaceNotAtomic => std::fs::write(path, bytes),
    }
}

fn describe(path: &Path, source: io::Error) -> WriteError {
    let path = path.to_path_buf();
    match source.kind() {
        io::ErrorKind::IsADirectory | io::ErrorKind::DirectoryNotEmpty => {
            WriteError::ExistingFolder { path }
        }
        _ => WriteError::Io { path, source },
    }
}

fn attempt(dir: &Path, path: &Path, bytes: &[u8], exists: Option<bool>) -> io::Result<()> {
    // A new output: an unnamed file, linked once complete (one directory update, nothing
    // behind after a crash). Replacing one: a named temporary renamed over it, which costs
    // less than an unnamed file that must be linked under a temporary name first and then
    // renamed (docs/BENCHMARKS.md, "Per-file cost"); both leave a named temporary only while
    // replacing, which a later run removes if the process was killed.
    #[cfg(target_os = "linux")]
    if !exists.unwrap_or_else(|| std::fs::symlink_metadata(path).is_ok()) {
        if let Some(done) = linux::write_unnamed(dir, path, bytes) {
            return done;
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = exists;
    write_named_temp(dir, path, bytes)
}

/// The portable way: a named temporary file in `dir`, renamed over `path`. On any error the
/// temporary file is removed (when `tmp` drops).
fn write_named_temp(dir: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut builder = tempfile::Builder::new();
    let prefix = format!("{TEMP_PREFIX}{}-", std::process::id());
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Ordinary file permissions (less the umask), not tempfile's private 0600.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.flush()?;
    tmp.persist(path).map(|_| ()).map_err(|e| e.error)
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::CString;
    use std::fs::File;
    use std::io::{self, Write};
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    fn c_path(p: &Path) -> io::Result<CString> {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))
    }

    /// Whether `linkat(fd, "", ..., AT_EMPTY_PATH)` was refused once (it needs
    /// CAP_DAC_READ_SEARCH): then every later link goes through `/proc/self/fd` at once.
    static EMPTY_PATH_REFUSED: AtomicBool = AtomicBool::new(false);

    /// Links the open unnamed file `fd` at `target`; fails with `AlreadyExists` when taken.
    fn link_fd(fd: i32, target: &CString) -> io::Result<()> {
        // The descriptor itself first: no path walk through /proc (about a tenth of the
        // kernel's time per small file in `perf`). Without the capability it is refused with
        // ENOENT (or EPERM); /proc is then used, and at once for every later file.
        if EMPTY_PATH_REFUSED.load(Ordering::Relaxed) {
            return link_through_proc(fd, target);
        }
        match link_empty_path(fd, target) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::EPERM)) => {
                let through_proc = link_through_proc(fd, target);
                if through_proc.is_ok() {
                    EMPTY_PATH_REFUSED.store(true, Ordering::Relaxed);
                }
                through_proc
            }
            other => other,
        }
    }

    fn link_empty_path(fd: i32, target: &CString) -> io::Result<()> {
        linkat(fd, c"", target, libc::AT_EMPTY_PATH)
    }

    fn link_through_proc(fd: i32, target: &CString) -> io::Result<()> {
        let proc_path = CString::new(format!("/proc/self/fd/{fd}")).map_err(io::Error::other)?;
        linkat(libc::AT_FDCWD, &proc_path, target, libc::AT_SYMLINK_FOLLOW)
    }

    fn linkat(
        from_dir: i32,
        from: &std::ffi::CStr,
        target: &CString,
        flags: i32,
    ) -> io::Result<()> {
        // SAFETY: both paths are valid NUL-terminated strings for the duration of the call;
        // `from_dir` is an open descriptor or AT_FDCWD.
        let r = unsafe {
            libc::linkat(
                from_dir,
                from.as_ptr(),
                libc::AT_FDCWD,
                target.as_ptr(),
                flags,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Writes through an unnamed file. `None` when this folder's file system cannot make one
    /// (the caller then uses a named temporary file).
    pub(super) fn write_unnamed(dir: &Path, path: &Path, bytes: &[u8]) -> Option<io::Result<()>> {
        let cdir = match c_path(dir) {
            Ok(c) => c,
            Err(e) => return Some(Err(e)),
        };
        // SAFETY: `cdir` is a valid NUL-terminated path; the flags ask for a new unnamed file.
        let fd = unsafe {
            libc::open(
                cdir.as_ptr(),
                libc::O_TMPFILE | libc::O_WRONLY | libc::O_CLOEXEC,
                0o666,
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EOPNOTSUPP) | Some(libc::EISDIR) | Some(libc::EINVAL) => None,
                _ => Some(Err(e)),
            };
        }
        // SAFETY: `fd` was just opened and is owned by nothing else; File closes it on drop,
        // and an unnamed file that was never linked disappears with it.
        let mut file = unsafe { File::from_raw_fd(fd) };
        if let Err(e) = file.write_all(bytes) {
            return Some(Err(e));
        }
        let target = match c_path(path) {
            Ok(t) => t,
            Err(e) => return Some(Err(e)),
        };
        match link_fd(file.as_raw_fd(), &target) {
            Ok(()) => Some(Ok(())),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Some(replace(&file, dir, path)),
            // /proc missing and no capability for AT_EMPTY_PATH: fall back to a named file.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT) | Some(libc::EPERM) | Some(libc::EACCES)
                ) && path.parent().is_some_and(|p| p.is_dir()) =>
            {
                None
            }
            Err(e) => Some(Err(e)),
        }
    }

    /// `path` exists: link the file under a fresh temporary name, then rename it over `path`.
    fn replace(file: &File, dir: &Path, path: &Path) -> io::Result<()> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "{}{}-{}.tmp",
            super::TEMP_PREFIX,
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = dir.join(name);
        link_fd(file.as_raw_fd(), &c_path(&tmp)?)?;
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replaces_and_leaves_nothing_else() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a/b/out.png");
        assert_eq!(write_atomic(&p, b"first").unwrap(), 5);
        assert_eq!(std::fs::read(&p).unwrap(), b"first");
        assert_eq!(write_atomic(&p, b"second!").unwrap(), 7);
        assert_eq!(std::fs::read(&p).unwrap(), b"second!");
        let names: Vec<_> = std::fs::read_dir(t.path().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.png"]);
    }

    #[test]
    fn a_wrong_hint_about_the_output_still_writes_it_whole() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("out.png");
        // Said to exist, but absent; then said to be new, but there.
        assert_eq!(write_atomic_known(&p, b"first", Some(true)).unwrap(), 5);
        assert_eq!(std::fs::read(&p).unwrap(), b"first");
        assert_eq!(write_atomic_known(&p, b"second", Some(false)).unwrap(), 6);
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        // A dangling link said to be free is replaced, not followed.
        #[cfg(unix)]
        {
            let link = t.path().join("link.png");
            std::os::unix::fs::symlink(t.path().join("nowhere"), &link).unwrap();
            write_atomic_known(&link, b"third", Some(false)).unwrap();
            assert!(!std::fs::symlink_metadata(&link).unwrap().is_symlink());
            assert!(!t.path().join("nowhere").exists());
        }
        let mut names: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, cfg_names());
    }

    fn cfg_names() -> Vec<&'static str> {
        if cfg!(unix) {
            vec!["link.png", "out.png"]
        } else {
            vec!["out.png"]
        }
    }

    #[test]
    fn an_existing_folder_at_the_output_path_is_named() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x.png");
        std::fs::create_dir(&p).unwrap();
        // Looked at here, and said (out of date) to be free or taken by a plan: the same
        // error, and no temporary file left behind by either way of writing.
        for hint in [None, Some(false), Some(true)] {
            let e = write_atomic_known(&p, b"data", hint).unwrap_err();
            assert!(
                matches!(&e, WriteError::ExistingFolder { path } if *path == p),
                "{hint:?}: {e}"
            );
            assert_eq!(
                e.to_string(),
                format!("output {} is an existing folder", p.display())
            );
            assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1, "{hint:?}");
        }
    }

    #[test]
    fn temporary_names_carry_the_pid() {
        assert_eq!(temp_owner(".graypipe-1234-0.tmp"), Some(1234));
        assert_eq!(temp_owner(".graypipe-77-AbC12x.tmp"), Some(77));
        for other in [
            ".graypipe-notes.tmp",
            ".graypipe--1.tmp",
            ".graypipe-12-.tmp",
            ".graypipe-0-1.tmp",
            ".graypipe-99999999999-1.tmp",
            ".graypipe-12-1.png",
            "graypipe-12-1.tmp",
        ] {
            assert_eq!(temp_owner(other), None, "{other}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn only_stale_temporary_files_of_dead_processes_are_removed() {
        let t = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let me = std::process::id();
        let names = [
            format!(".graypipe-{dead}-0.tmp"),
            format!(".graypipe-{me}-0.tmp"),
            ".graypipe-notes.tmp".to_string(),
            "a.png".to_string(),
        ];
        for n in &names {
            std::fs::write(t.path().join(n), b"x").unwrap();
        }
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        assert_eq!(
            remove_stale_temps(t.path(), std::time::SystemTime::UNIX_EPOCH),
            0
        );
        assert_eq!(remove_stale_temps(t.path(), later), 1);
        assert!(!t.path().join(&names[0]).exists());
        for n in &names[1..] {
            assert!(t.path().join(n).exists(), "{n}");
        }
    }

    #[test]
    fn the_portable_path_works_too() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("y.png");
        write_named_temp(t.path(), &p, b"abc").unwrap();
        write_named_temp(t.path(), &p, b"abcd").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"abcd");
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1);
    }
}
