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
//! On Linux the output's folder is opened once per write and every step is relative to it,
//! after checking that the folder is none of the batch's input folders ([`ProtectedFolders`]):
//! a folder of the output tree swapped for a link to an input folder mid-run cannot make a
//! write replace an input.
//!
//! The promise is about the process, not the machine: nothing is fsynced, so after a power loss
//! or a kernel crash an output may be empty or missing, as for any program that does not fsync
//! (one fsync per file would cost more than converting a small picture).

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::io_reason;

/// Prefix of every temporary name graypipe gives. The full name is
/// `.graypipe-<pid>-<unique>.tmp` ([`is_temp_name`]), so that a later run can tell a file left
/// by a killed process from one being written right now (see [`remove_stale_temps`]).
pub const TEMP_PREFIX: &str = ".graypipe-";

/// Whether `name` is one graypipe gives its temporary files (`.graypipe-<pid>-<unique>.tmp`):
/// folder walks skip those, and only those (a picture named `.graypipe-x.png` is a picture).
pub fn is_temp_name(name: &str) -> bool {
    temp_owner(name).is_some()
}

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

/// [`remove_stale_temps`] in `root` and every folder below it (symbolic links not followed),
/// then in each of `more` not visited yet (output folders reached through a link); folders
/// that are, by identity, one of `skip` (the batch's input folders) are left alone, as is
/// everything below them. Returns how many files were removed.
pub fn remove_stale_temps_below<'a>(
    root: &Path,
    more: impl IntoIterator<Item = &'a Path>,
    skip: &ProtectedFolders,
    before: std::time::SystemTime,
) -> usize {
    let mut visited = HashSet::new();
    let mut removed = 0;
    let walk = walkdir::WalkDir::new(root).into_iter().filter_entry(|e| {
        e.file_type().is_dir() && !folder_id(e.path()).is_some_and(|id| skip.contains(id))
    });
    for dir in walk.flatten() {
        if let Some(id) = folder_id(dir.path()) {
            visited.insert(id);
        }
        removed += remove_stale_temps(dir.path(), before);
    }
    for dir in more {
        match folder_id(dir) {
            Some(id) if skip.contains(id) => {}
            Some(id) if visited.insert(id) => removed += remove_stale_temps(dir, before),
            Some(_) => {}
            None => removed += remove_stale_temps(dir, before),
        }
    }
    removed
}

#[cfg(unix)]
fn folder_id(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn folder_id(_: &Path) -> Option<(u64, u64)> {
    None
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

/// Folders, by identity (device and inode), that a write must never put a file into: the
/// folders that hold a batch's inputs. Checked on the open folder itself at write time, so a
/// folder of the output tree swapped for a link to an input folder during a run is caught.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProtectedFolders(Arc<HashSet<(u64, u64)>>);

impl ProtectedFolders {
    /// The folders with these identities.
    pub fn new(ids: HashSet<(u64, u64)>) -> Self {
        ProtectedFolders(Arc::new(ids))
    }

    /// Whether the folder with this identity is protected.
    pub fn contains(&self, id: (u64, u64)) -> bool {
        self.0.contains(&id)
    }
}

impl std::fmt::Debug for ProtectedFolders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProtectedFolders({} folders)", self.0.len())
    }
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
    /// The output's folder is, by identity, a folder that holds inputs (a link swapped into
    /// the output tree after the plan).
    #[error("output folder {} is now a folder of the inputs (changed into a link during the run?): not written", .dir.display())]
    IntoInputFolder {
        /// The folder.
        dir: PathBuf,
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
            WriteError::ExistingFolder { .. } | WriteError::IntoInputFolder { .. } => None,
        }
    }
}

/// The folder `path`'s file goes in: its parent, or `.` for a bare name.
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` atomically, creating the folder if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<u64, WriteError> {
    write_atomic_known(path, bytes, None, &ProtectedFolders::default())
}

/// [`write_atomic`] when the caller already knows whether something stands at `path` (a
/// batch's plan looked once per output folder), which saves a `stat` per file. The knowledge
/// only picks the cheaper way: if it is out of date the write is still atomic and correct.
/// On Linux the folder is opened once and everything happens relative to it, after checking
/// that it is none of `protected` (elsewhere the check is on the path, just before writing).
pub fn write_atomic_known(
    path: &Path,
    bytes: &[u8],
    exists: Option<bool>,
    protected: &ProtectedFolders,
) -> Result<u64, WriteError> {
    let dir = folder_of(path);
    match attempt(dir, path, bytes, exists, protected) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // The folder usually exists: only create it when the first attempt says so.
            std::fs::create_dir_all(dir).map_err(|source| WriteError::CreateFolder {
                dir: dir.to_path_buf(),
                source,
            })?;
            attempt(dir, path, bytes, exists, protected)
        }
        other => other,
    }
    .map(|_| bytes.len() as u64)
    .map_err(|e| {
        if is_protected_refusal(&e) {
            WriteError::IntoInputFolder {
                dir: dir.to_path_buf(),
            }
        } else {
            describe(path, e)
        }
    })
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
    let dir = folder_of(path);
    match scheme {
        WriteScheme::Chosen => attempt(dir, path, bytes, None, &ProtectedFolders::default()),
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

/// The error that stands for "the folder is protected" between `attempt` and its caller.
#[derive(Debug, thiserror::Error)]
#[error("the output folder is a folder of the inputs")]
struct ProtectedRefusal;

fn protected_refusal() -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, ProtectedRefusal)
}

fn is_protected_refusal(e: &io::Error) -> bool {
    e.get_ref()
        .is_some_and(|inner| inner.is::<ProtectedRefusal>())
}

fn attempt(
    dir: &Path,
    path: &Path,
    bytes: &[u8],
    exists: Option<bool>,
    protected: &ProtectedFolders,
) -> io::Result<()> {
    // A new output: an unnamed file, linked once complete (one directory update, nothing
    // behind after a crash). Replacing one: a named temporary renamed over it, which costs
    // less than an unnamed file that must be linked under a temporary name first and then
    // renamed (docs/BENCHMARKS.md, "Per-file cost"); both leave a named temporary only while
    // replacing, which a later run removes if the process was killed.
    #[cfg(target_os = "linux")]
    {
        let exists = exists.unwrap_or_else(|| std::fs::symlink_metadata(path).is_ok());
        linux::write_in_folder(dir, path, bytes, exists, protected)
    }
    #[cfg(not(target_os = "linux"))]
    {
        // Checked on the path just before writing: narrower than Linux's check on the open
        // folder, but no write goes into an input folder that was one before this file.
        let _ = exists;
        if !protected.0.is_empty()
            && crate::batch::plan::file_id(dir).is_some_and(|id| protected.contains(id))
        {
            return Err(protected_refusal());
        }
        write_named_temp(dir, path, bytes)
    }
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
    use std::ffi::{CStr, CString, OsStr};
    use std::fs::File;
    use std::io::{self, Write};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use super::ProtectedFolders;

    /// Whether `linkat(fd, "", ..., AT_EMPTY_PATH)` was refused once (it needs
    /// CAP_DAC_READ_SEARCH on older kernels): then every later link goes through
    /// `/proc/self/fd` at once.
    static EMPTY_PATH_REFUSED: AtomicBool = AtomicBool::new(false);

    fn c_str(bytes: &[u8]) -> io::Result<CString> {
        CString::new(bytes)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))
    }

    fn check(r: libc::c_int) -> io::Result<libc::c_int> {
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(r)
        }
    }

    /// An output folder, opened once: every step of a write is relative to it, so swapping
    /// the folder's path for a link after the check below changes nothing.
    struct Folder {
        fd: OwnedFd,
    }

    impl Folder {
        /// Opens `dir` (links followed, as the plan resolved it) and refuses it when it is,
        /// by identity, one of `protected`.
        fn open(dir: &Path, protected: &ProtectedFolders) -> io::Result<Folder> {
            let cdir = c_str(dir.as_os_str().as_bytes())?;
            // O_PATH: a folder one may write in but not list (mode 0333) opens too; the
            // descriptor serves only as the base of the calls below and for fstat.
            // SAFETY: `cdir` is a valid NUL-terminated path; the flags open a folder to work in.
            let fd = check(unsafe {
                libc::open(
                    cdir.as_ptr(),
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            })?;
            // SAFETY: `fd` was just opened and is owned by nothing else.
            let folder = Folder {
                fd: unsafe { OwnedFd::from_raw_fd(fd) },
            };
            if !protected.0.is_empty() {
                // SAFETY: an all-zero `stat` is a valid value for fstat to overwrite.
                let mut st: libc::stat = unsafe { std::mem::zeroed() };
                // SAFETY: the folder's descriptor is open and `st` is writable.
                check(unsafe { libc::fstat(folder.raw(), &mut st) })?;
                #[allow(clippy::unnecessary_cast)] // the field types differ across targets
                if protected.contains((st.st_dev as u64, st.st_ino as u64)) {
                    return Err(super::protected_refusal());
                }
            }
            Ok(folder)
        }

        fn raw(&self) -> libc::c_int {
            self.fd.as_raw_fd()
        }

        /// Writes through an unnamed file linked as `name`. `None` when this file system
        /// cannot make one, or it cannot be linked (no /proc and no AT_EMPTY_PATH): the caller
        /// then uses a named temporary file.
        fn write_unnamed(&self, name: &CStr, bytes: &[u8]) -> Option<io::Result<()>> {
            // SAFETY: "." is a valid path relative to the open folder; the flags ask for a new
            // unnamed file in it.
            let fd = unsafe {
                libc::openat(
                    self.raw(),
                    c".".as_ptr(),
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
            // SAFETY: `fd` was just opened and is owned by nothing else; File closes it on
            // drop, and an unnamed file that was never linked disappears with it.
            let mut file = unsafe { File::from_raw_fd(fd) };
            if let Err(e) = file.write_all(bytes) {
                return Some(Err(e));
            }
            match self.link(&file, name) {
                Ok(()) => Some(Ok(())),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    Some(self.replace_with(&file, name))
                }
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENOENT) | Some(libc::EPERM) | Some(libc::EACCES)
                    ) =>
                {
                    None
                }
                Err(e) => Some(Err(e)),
            }
        }

        /// Links the open unnamed `file` as `name`; fails with `AlreadyExists` when taken.
        fn link(&self, file: &File, name: &CStr) -> io::Result<()> {
            let fd = file.as_raw_fd();
            // The descriptor itself first: no path walk through /proc (about a tenth of the
            // kernel's time per small file in `perf`). Refused (ENOENT or EPERM) without the
            // capability on older kernels; /proc is then used, and at once for later files.
            if EMPTY_PATH_REFUSED.load(Ordering::Relaxed) {
                return self.link_through_proc(fd, name);
            }
            match self.linkat(fd, c"", name, libc::AT_EMPTY_PATH) {
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::EPERM)) => {
                    let through_proc = self.link_through_proc(fd, name);
                    if through_proc.is_ok() {
                        EMPTY_PATH_REFUSED.store(true, Ordering::Relaxed);
                    }
                    through_proc
                }
                other => other,
            }
        }

        fn link_through_proc(&self, fd: libc::c_int, name: &CStr) -> io::Result<()> {
            let proc_path = c_str(format!("/proc/self/fd/{fd}").as_bytes())?;
            self.linkat(libc::AT_FDCWD, &proc_path, name, libc::AT_SYMLINK_FOLLOW)
        }

        fn linkat(
            &self,
            from_dir: libc::c_int,
            from: &CStr,
            name: &CStr,
            flags: libc::c_int,
        ) -> io::Result<()> {
            // SAFETY: both strings are valid and NUL-terminated for the call; `from_dir` is an
            // open descriptor or AT_FDCWD, and the folder's descriptor is open.
            check(unsafe {
                libc::linkat(from_dir, from.as_ptr(), self.raw(), name.as_ptr(), flags)
            })
            .map(|_| ())
        }

        /// `name` exists: link the unnamed file under a fresh temporary name, then rename it
        /// over `name`.
        fn replace_with(&self, file: &File, name: &CStr) -> io::Result<()> {
            let tmp = temp_name()?;
            self.link(file, &tmp)?;
            self.rename_over(&tmp, name)
        }

        /// A named temporary file in the folder, renamed over `name`; removed on any error.
        fn write_named(&self, name: &CStr, bytes: &[u8]) -> io::Result<()> {
            let tmp = temp_name()?;
            // SAFETY: `tmp` is a valid NUL-terminated name relative to the open folder;
            // O_EXCL makes a fresh file or fails.
            let fd = check(unsafe {
                libc::openat(
                    self.raw(),
                    tmp.as_ptr(),
                    libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC,
                    0o666,
                )
            })?;
            // SAFETY: `fd` was just opened and is owned by nothing else.
            let mut file = unsafe { File::from_raw_fd(fd) };
            let written = file.write_all(bytes);
            drop(file);
            written
                .and_then(|()| self.rename_over(&tmp, name))
                .inspect_err(|_| self.remove(&tmp))
        }

        fn rename_over(&self, tmp: &CStr, name: &CStr) -> io::Result<()> {
            // SAFETY: both names are valid NUL-terminated names relative to the open folder.
            check(unsafe { libc::renameat(self.raw(), tmp.as_ptr(), self.raw(), name.as_ptr()) })
                .map(|_| ())
                .inspect_err(|_| self.remove(tmp))
        }

        fn remove(&self, tmp: &CStr) {
            // SAFETY: `tmp` is a valid NUL-terminated name relative to the open folder.
            unsafe { libc::unlinkat(self.raw(), tmp.as_ptr(), 0) };
        }
    }

    /// `.graypipe-<pid>-<n>.tmp`, fresh within this process.
    fn temp_name() -> io::Result<CString> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        c_str(
            format!(
                "{}{}-{}.tmp",
                super::TEMP_PREFIX,
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            )
            .as_bytes(),
        )
    }

    fn file_name(path: &Path) -> io::Result<CString> {
        let name = path.file_name().unwrap_or(OsStr::new(""));
        if name.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the output path has no file name",
            ));
        }
        c_str(name.as_bytes())
    }

    /// Writes `bytes` as `path` in `dir` (its folder): an unnamed file when nothing stands
    /// there (`exists` false), a named temporary renamed over it otherwise or when no unnamed
    /// file can be made.
    pub(super) fn write_in_folder(
        dir: &Path,
        path: &Path,
        bytes: &[u8],
        exists: bool,
        protected: &ProtectedFolders,
    ) -> io::Result<()> {
        let folder = Folder::open(dir, protected)?;
        let name = file_name(path)?;
        if !exists {
            if let Some(done) = folder.write_unnamed(&name, bytes) {
                return done;
            }
        }
        folder.write_named(&name, bytes)
    }

    /// Always an unnamed file (the study's scheme); `None` where none can be made or linked.
    pub(super) fn write_unnamed(dir: &Path, path: &Path, bytes: &[u8]) -> Option<io::Result<()>> {
        let folder = match Folder::open(dir, &ProtectedFolders::default()) {
            Ok(f) => f,
            Err(e) => return Some(Err(e)),
        };
        match file_name(path) {
            Ok(name) => folder.write_unnamed(&name, bytes),
            Err(e) => Some(Err(e)),
        }
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

    fn none() -> ProtectedFolders {
        ProtectedFolders::default()
    }

    #[cfg(unix)]
    #[test]
    fn a_protected_folder_is_never_written_into_and_nothing_is_left() {
        use std::os::unix::fs::MetadataExt;
        let t = tempfile::tempdir().unwrap();
        let inputs = t.path().join("in");
        std::fs::create_dir(&inputs).unwrap();
        std::fs::write(inputs.join("a.png"), b"input").unwrap();
        let m = std::fs::metadata(&inputs).unwrap();
        let protected = ProtectedFolders::new([(m.dev(), m.ino())].into());
        // Through a link to the folder, and by its own name; new and existing outputs alike.
        std::os::unix::fs::symlink(&inputs, t.path().join("out")).unwrap();
        for (path, hint) in [
            (t.path().join("out/a.png"), Some(false)),
            (t.path().join("out/a.png"), Some(true)),
            (t.path().join("out/new.png"), None),
            (inputs.join("a.png"), None),
        ] {
            let e = write_atomic_known(&path, b"output", hint, &protected).unwrap_err();
            assert!(matches!(e, WriteError::IntoInputFolder { .. }), "{e}");
            assert!(
                e.to_string().contains("is now a folder of the inputs"),
                "{e}"
            );
        }
        assert_eq!(std::fs::read(inputs.join("a.png")).unwrap(), b"input");
        assert_eq!(std::fs::read_dir(&inputs).unwrap().count(), 1);
        // Another folder is written as usual.
        let other = t.path().join("other/a.png");
        assert_eq!(
            write_atomic_known(&other, b"output", None, &protected).unwrap(),
            6
        );
    }

    #[test]
    fn a_wrong_hint_about_the_output_still_writes_it_whole() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("out.png");
        // Said to exist, but absent; then said to be new, but there.
        assert_eq!(
            write_atomic_known(&p, b"first", Some(true), &none()).unwrap(),
            5
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"first");
        assert_eq!(
            write_atomic_known(&p, b"second", Some(false), &none()).unwrap(),
            6
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        // A dangling link said to be free is replaced, not followed.
        #[cfg(unix)]
        {
            let link = t.path().join("link.png");
            std::os::unix::fs::symlink(t.path().join("nowhere"), &link).unwrap();
            write_atomic_known(&link, b"third", Some(false), &none()).unwrap();
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
            let e = write_atomic_known(&p, b"data", hint, &none()).unwrap_err();
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
