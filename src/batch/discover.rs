//! Finding input files: files given directly, image files under folders (walked recursively
//! in a stable sorted order) and files listed in a `--files-from` list, narrowed by a
//! [`Selection`] (globs, extensions, hidden names, depth).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use walkdir::WalkDir;

use crate::codec::InputFormat;

/// One input file and the path its output is named after, relative to the output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The file to read.
    pub input: PathBuf,
    /// Its path below the folder it was found in (its file name when given directly).
    pub relative: PathBuf,
    /// The input folder it was found under; None for a file given directly.
    pub root: Option<PathBuf>,
}

/// A path that could not be listed; the batch goes on without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryError {
    /// The path concerned.
    pub path: PathBuf,
    /// Why it was skipped.
    pub reason: String,
}

pub use crate::atomic_write::TEMP_PREFIX;

/// What a walk found: the files, the paths it could not list (failures) and the links it
/// did not follow because they loop (warnings: nothing below them is missed).
#[derive(Debug, Default)]
pub struct Listing {
    /// Files to convert.
    pub found: Vec<Discovered>,
    /// Paths that could not be listed.
    pub errors: Vec<DiscoveryError>,
    /// Symbolic link loops, reported and not followed.
    pub loops: Vec<DiscoveryError>,
    /// Every folder walked (the input folders themselves included), as reached: the plan
    /// checks by identity that none of them is, holds or lies inside the output folder.
    pub folders: Vec<PathBuf>,
    /// What the selection left out, counted (a dry run says why nothing was selected).
    pub left_out: LeftOut,
}

/// How many files and folders the selection left out, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LeftOut {
    /// Files whose name or a folder of whose path starts with a dot (no `--hidden`).
    pub hidden_files: usize,
    /// Folders starting with a dot, not walked (no `--hidden`).
    pub hidden_folders: usize,
    /// Files whose extension is not taken (`--extensions`, or not an image format's).
    pub other_extensions: usize,
    /// Files matching no `--include`.
    pub not_included: usize,
    /// Files matching an `--exclude`.
    pub excluded_files: usize,
    /// Folders matching an `--exclude`, not walked.
    pub excluded_folders: usize,
    /// Folders at the `--max-depth` limit, whose contents were not walked.
    pub folders_at_max_depth: usize,
    /// Listed (`--files-from`) folders, skipped.
    pub listed_folders: usize,
}

/// Why the selection leaves a file out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftOutFile {
    /// A hidden name (no `--hidden`).
    Hidden,
    /// An extension not taken.
    OtherExtension,
    /// Matches no include glob.
    NotIncluded,
    /// Matches an exclude glob.
    Excluded,
}

impl LeftOut {
    fn count_file(&mut self, why: LeftOutFile) {
        match why {
            LeftOutFile::Hidden => self.hidden_files += 1,
            LeftOutFile::OtherExtension => self.other_extensions += 1,
            LeftOutFile::NotIncluded => self.not_included += 1,
            LeftOutFile::Excluded => self.excluded_files += 1,
        }
    }

    /// Adds another listing's counts.
    pub fn add(&mut self, other: &LeftOut) {
        self.hidden_files += other.hidden_files;
        self.hidden_folders += other.hidden_folders;
        self.other_extensions += other.other_extensions;
        self.not_included += other.not_included;
        self.excluded_files += other.excluded_files;
        self.excluded_folders += other.excluded_folders;
        self.folders_at_max_depth += other.folders_at_max_depth;
        self.listed_folders += other.listed_folders;
    }
}

impl Listing {
    /// `path`'s metadata (links followed), or `None` with the reason recorded as an error.
    fn metadata_or_error(&mut self, path: &Path) -> Option<std::fs::Metadata> {
        std::fs::metadata(path)
            .map_err(|e| {
                self.errors.push(DiscoveryError {
                    path: path.to_path_buf(),
                    reason: crate::error::io_reason(&e),
                })
            })
            .ok()
    }
}

/// Lists the files under `inputs` with the default [`Selection`] (image extensions, no hidden
/// names, any depth). See [`discover_selected`].
pub fn discover(inputs: &[PathBuf], follow_links: bool) -> Listing {
    discover_selected(inputs, follow_links, &Selection::default())
}

/// Lists the files under `inputs`, then the files of `selection.listed`. A folder contributes
/// the files below it that the selection takes; a file given directly is taken whatever its
/// name. Symbolic links are followed only with `follow_links`, and then loops are reported
/// instead of followed.
pub fn discover_selected(inputs: &[PathBuf], follow_links: bool, selection: &Selection) -> Listing {
    let mut listing = Listing::default();
    for root in inputs {
        let Some(meta) = listing.metadata_or_error(root) else {
            continue;
        };
        if !meta.is_dir() {
            let name = root
                .file_name()
                .map(PathBuf::from)
                .unwrap_or_else(|| root.clone());
            listing.found.push(Discovered {
                input: root.clone(),
                relative: name,
                root: None,
            });
            continue;
        }
        walk_folder(root, follow_links, selection, &mut listing);
    }
    // A file listed twice (`in/a.png` and `./in/a.png`, or through a link) is taken once.
    let mut listed_ids = HashSet::new();
    for path in &selection.listed {
        take_listed(path, selection, &mut listing, &mut listed_ids);
    }
    listing
}

/// A `--files-from` entry: named after its path when that is relative and stays below the
/// current folder, after its file name otherwise; filtered like a walked file, on that name.
/// Folders are skipped: `find` and `fd` list a folder and then its files.
/// `taken`: the identities of the listed files taken so far; one listed again is skipped.
fn take_listed(
    path: &Path,
    selection: &Selection,
    listing: &mut Listing,
    taken: &mut HashSet<(u64, u64)>,
) {
    let under_root = selection.listed_root.as_ref().and_then(|root| {
        path.strip_prefix(root)
            .ok()
            .and_then(below_current_folder)
            .filter(|rel| !rel.as_os_str().is_empty())
            .map(|rel| (rel, Some(root.clone())))
    });
    let (relative, root) = match under_root
        .or_else(|| below_current_folder(path).map(|rel| (rel, Some(PathBuf::from(".")))))
    {
        Some(named) => named,
        None => match path.file_name() {
            Some(name) => (PathBuf::from(name), None),
            None => {
                listing.errors.push(DiscoveryError {
                    path: path.to_path_buf(),
                    reason: "names no file (listed in --files-from)".to_string(),
                });
                return;
            }
        },
    };
    let Some(meta) = listing.metadata_or_error(path) else {
        return;
    };
    if meta.is_dir() {
        listing.left_out.listed_folders += 1;
        return;
    }
    if let Some(why) = selection.leaves_out(&relative) {
        listing.left_out.count_file(why);
        return;
    }
    if identity(&meta).is_some_and(|id| !taken.insert(id)) {
        return;
    }
    listing.found.push(Discovered {
        input: path.to_path_buf(),
        relative,
        root,
    });
}

/// `path` without `.` components when it is relative and never climbs out with `..`.
fn below_current_folder(path: &Path) -> Option<PathBuf> {
    let mut rel = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => rel.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!rel.as_os_str().is_empty()).then_some(rel)
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

fn is_hidden(name: &OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

fn walk_folder(root: &Path, follow_links: bool, selection: &Selection, listing: &mut Listing) {
    let mut walker = WalkDir::new(root)
        .follow_links(follow_links)
        .sort_by_file_name();
    if let Some(depth) = selection.max_depth {
        walker = walker.max_depth(depth);
    }
    // Hidden and excluded folders are pruned, not walked and then dropped.
    let hidden_folders = std::cell::Cell::new(0);
    let excluded_folders = std::cell::Cell::new(0);
    let walker = walker.into_iter().filter_entry(|e| {
        if e.depth() == 0 || !e.file_type().is_dir() {
            return true;
        }
        let relative = e.path().strip_prefix(root).unwrap_or(e.path());
        let hidden = !selection.hidden && relative.file_name().is_some_and(is_hidden);
        let taken = selection.takes_folder(relative);
        if !taken {
            let counter = if hidden {
                &hidden_folders
            } else {
                &excluded_folders
            };
            counter.set(counter.get() + 1);
        }
        taken
    });
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e
                    .path()
                    .map_or_else(|| root.to_path_buf(), Path::to_path_buf);
                if let Some(ancestor) = e.loop_ancestor() {
                    let reason = format!(
                        "symbolic link loop back to {} (not followed)",
                        ancestor.display()
                    );
                    listing.loops.push(DiscoveryError { path, reason });
                } else {
                    let reason = e
                        .io_error()
                        .map_or_else(|| e.to_string(), crate::error::io_reason);
                    listing.errors.push(DiscoveryError { path, reason });
                }
                continue;
            }
        };
        if entry.file_type().is_dir() {
            if selection.max_depth == Some(entry.depth()) && entry.depth() > 0 {
                listing.left_out.folders_at_max_depth += 1;
            }
            listing.folders.push(entry.path().to_path_buf());
            continue;
        }
        // Without --follow-links a link is reported by its own type: never a file to take.
        // FIFOs, devices and sockets are not pictures: left alone, never opened.
        if !entry.file_type().is_file() {
            continue;
        }
        // Only graypipe's own temporary files (`.graypipe-<pid>-<unique>.tmp`) are left out
        // here; a picture merely named `.graypipe-...` is taken with --hidden like any other.
        if entry
            .file_name()
            .to_str()
            .is_some_and(crate::atomic_write::is_temp_name)
        {
            continue;
        }
        let relative = entry
            .path()
            .strip_prefix(root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| PathBuf::from(entry.file_name()));
        if let Some(why) = selection.leaves_out(&relative) {
            listing.left_out.count_file(why);
            continue;
        }
        listing.found.push(Discovered {
            input: entry.into_path(),
            relative,
            root: Some(root.to_path_buf()),
        });
    }
    listing.left_out.hidden_folders += hidden_folders.get();
    listing.left_out.excluded_folders += excluded_folders.get();
}

/// Which files a folder walk and a `--files-from` list take.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Take only files matching one of these (all files when None).
    pub include: Option<GlobFilter>,
    /// Leave files, and prune folders, matching one of these.
    pub exclude: Option<GlobFilter>,
    /// Extensions to take (lower case, no dot) instead of the image formats' own list.
    pub extensions: Option<Vec<String>>,
    /// Take names starting with a dot (skipped by default).
    pub hidden: bool,
    /// Walk at most this deep below a folder (1: the folder's own entries).
    pub max_depth: Option<usize>,
    /// Files listed by `--files-from`, in list order, after the inputs.
    pub listed: Vec<PathBuf>,
    /// `--relative-to`: listed files below this folder are named by their path below it, as
    /// a walk of the folder names them (so a retry list reproduces a folder run's outputs).
    pub listed_root: Option<PathBuf>,
}

impl Selection {
    /// Whether a file at `relative` (below its input folder) is taken.
    pub fn takes_file(&self, relative: &Path) -> bool {
        self.leaves_out(relative).is_none()
    }

    /// Why a file at `relative` (below its input folder) is left out; None when it is taken.
    /// The reasons are tried in this order: hidden, extension, include, exclude.
    pub fn leaves_out(&self, relative: &Path) -> Option<LeftOutFile> {
        let hidden_ok = self.hidden
            || !relative.components().any(|c| match c {
                Component::Normal(part) => is_hidden(part),
                _ => false,
            });
        let extension_ok = match &self.extensions {
            Some(list) => relative
                .extension()
                .map(|e| e.to_string_lossy().to_lowercase())
                .is_some_and(|e| list.contains(&e)),
            None => InputFormat::from_path(relative).is_some(),
        };
        if !hidden_ok {
            Some(LeftOutFile::Hidden)
        } else if !extension_ok {
            Some(LeftOutFile::OtherExtension)
        } else if !self.include.as_ref().map_or(true, |f| f.matches(relative)) {
            Some(LeftOutFile::NotIncluded)
        } else if self.exclude.as_ref().is_some_and(|f| f.matches(relative)) {
            Some(LeftOutFile::Excluded)
        } else {
            None
        }
    }

    /// Whether the walk goes into the folder at `relative` (below its input folder).
    pub fn takes_folder(&self, relative: &Path) -> bool {
        let hidden = relative.file_name().is_some_and(is_hidden);
        (self.hidden || !hidden) && !self.exclude.as_ref().is_some_and(|f| f.matches(relative))
    }
}

/// A set of globs as `--include` and `--exclude` take them: a glob with a `/` is matched on the
/// whole path below the input folder (`*` stays within one folder name, `**` crosses any
/// number); a glob without one on the file name alone, wherever the file is (as in
/// `.gitignore` and ripgrep's `-g`).
#[derive(Debug, Clone)]
pub struct GlobFilter {
    on_name: GlobSet,
    on_path: GlobSet,
}

impl GlobFilter {
    /// Compiles `patterns`; the first malformed one is the error.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, SelectionError> {
        let mut on_name = GlobSetBuilder::new();
        let mut on_path = GlobSetBuilder::new();
        for pattern in patterns {
            let pattern = pattern.as_ref();
            let bad = |source| SelectionError::Glob {
                pattern: pattern.to_string(),
                source,
            };
            let trimmed = pattern.trim_start_matches("./").trim_start_matches('/');
            if trimmed.contains('/') {
                let glob = GlobBuilder::new(trimmed)
                    .literal_separator(true)
                    .build()
                    .map_err(bad)?;
                on_path.add(glob);
            } else {
                on_name.add(Glob::new(trimmed).map_err(bad)?);
            }
        }
        let build = |b: GlobSetBuilder| {
            b.build().map_err(|source| SelectionError::Glob {
                pattern: patterns
                    .iter()
                    .map(|p| p.as_ref())
                    .collect::<Vec<_>>()
                    .join(" "),
                source,
            })
        };
        Ok(Self {
            on_name: build(on_name)?,
            on_path: build(on_path)?,
        })
    }

    /// Whether `relative` (or its file name) matches one of the globs.
    pub fn matches(&self, relative: &Path) -> bool {
        relative
            .file_name()
            .is_some_and(|n| self.on_name.is_match(n))
            || self.on_path.is_match(relative)
    }
}

/// A selection that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum SelectionError {
    /// A malformed `--include`/`--exclude` glob.
    #[error("bad glob '{pattern}': {source}")]
    Glob {
        /// The glob as given.
        pattern: String,
        /// What globset found wrong.
        #[source]
        source: globset::Error,
    },
    /// The `--files-from` list could not be read.
    #[error("cannot read the file list {list}: {reason}")]
    ListUnreadable {
        /// The list (`-` for standard input).
        list: PathBuf,
        /// Why.
        reason: String,
    },
    /// The `--files-from` list is larger than [`MAX_LIST_BYTES`].
    #[error("the file list {list} is larger than {limit} bytes; split it into several runs")]
    ListTooLarge {
        /// The list (`-` for standard input).
        list: PathBuf,
        /// The bound.
        limit: u64,
    },
    /// A list whose bookkeeping would take more than half of the memory budget.
    #[error(
        "the file list {list} needs {} of memory to plan, run and report, more than half of \
         the memory budget ({budget} bytes, --max-memory); raise --max-memory or split the list \
         into several runs", needed.map_or_else(|| "more than that".to_string(), |n| format!("about {n} bytes"))
    )]
    ListOverBudget {
        /// The list (`-` for standard input).
        list: PathBuf,
        /// The estimate ([`listing_cost`]), when the list was read whole.
        needed: Option<u64>,
        /// The budget.
        budget: u64,
    },
    /// A newline-separated list holding NUL bytes: a `find -print0` list read without `--null`.
    #[error("the file list {list} holds NUL bytes: add --null for lists from find -print0, fd -0 or git ls-files -z")]
    ListLooksNulSeparated {
        /// The list (`-` for standard input).
        list: PathBuf,
    },
}

/// Bookkeeping bytes a listing of `entries` paths spelled in `bytes` bytes takes while it is
/// planned, run and reported (the list, each path as input and output, the report's lines),
/// an upper estimate: 16 bytes per byte of the list plus 1024 per entry (a run of 40,000
/// entries of 37 bytes peaked 53 MB above a run of one file: 1,330 bytes an entry).
pub fn listing_cost(bytes: u64, entries: u64) -> u64 {
    bytes
        .saturating_mul(16)
        .saturating_add(entries.saturating_mul(1024))
}

/// Reads a `--files-from` list as [`read_path_list`] does, within a memory budget: the list
/// and its bookkeeping ([`listing_cost`]) may take at most half of `budget` (the rest is for
/// pixels), else [`SelectionError::ListOverBudget`] before any work.
pub fn read_path_list_within(
    reader: impl Read,
    null: bool,
    budget: u64,
    list: &Path,
) -> Result<Vec<PathBuf>, SelectionError> {
    let allowed = budget / 2;
    // A list longer than this would cost more than allowed even with no entries.
    let limit = MAX_LIST_BYTES.min(allowed / 16);
    let over = |needed: Option<u64>| SelectionError::ListOverBudget {
        list: list.to_path_buf(),
        needed,
        budget,
    };
    let paths = match read_path_list(reader, null, limit, list) {
        Err(SelectionError::ListTooLarge { .. }) if limit < MAX_LIST_BYTES => {
            return Err(over(None))
        }
        other => other?,
    };
    let bytes: u64 = paths.iter().map(|p| p.as_os_str().len() as u64 + 1).sum();
    let needed = listing_cost(bytes, paths.len() as u64);
    if needed > allowed {
        return Err(over(Some(needed)));
    }
    Ok(paths)
}

/// The most a `--files-from` list may hold (256 MiB: about two million long paths).
pub const MAX_LIST_BYTES: u64 = 256 << 20;

/// Reads a `--files-from` list of at most `limit` bytes from `reader`: one path per line, or
/// NUL-separated with `null`. Empty entries are skipped; `list` names it in errors.
pub fn read_path_list(
    reader: impl Read,
    null: bool,
    limit: u64,
    list: &Path,
) -> Result<Vec<PathBuf>, SelectionError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| SelectionError::ListUnreadable {
            list: list.to_path_buf(),
            reason: crate::error::io_reason(&e),
        })?;
    if bytes.len() as u64 > limit {
        return Err(SelectionError::ListTooLarge {
            list: list.to_path_buf(),
            limit,
        });
    }
    let separator = if null { b'\0' } else { b'\n' };
    if !null && bytes.contains(&b'\0') {
        return Err(SelectionError::ListLooksNulSeparated {
            list: list.to_path_buf(),
        });
    }
    Ok(bytes
        .split(|&b| b == separator)
        .filter(|entry| !entry.is_empty())
        .map(path_from_bytes)
        .collect())
}

#[cfg(unix)]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selection(include: &[&str], exclude: &[&str]) -> Selection {
        Selection {
            include: (!include.is_empty()).then(|| GlobFilter::new(include).unwrap()),
            exclude: (!exclude.is_empty()).then(|| GlobFilter::new(exclude).unwrap()),
            ..Selection::default()
        }
    }

    #[test]
    fn globs_without_a_slash_match_the_name_anywhere() {
        let s = selection(&["*.jpg"], &[]);
        assert!(s.takes_file(Path::new("a/b/x.jpg")));
        assert!(!s.takes_file(Path::new("a/b/x.png")));
    }

    #[test]
    fn globs_with_a_slash_match_the_path_and_star_stays_in_one_folder() {
        let s = selection(&["a/*.jpg"], &[]);
        assert!(s.takes_file(Path::new("a/x.jpg")));
        assert!(!s.takes_file(Path::new("a/b/x.jpg")));
        let s = selection(&["a/**/*.jpg"], &[]);
        assert!(s.takes_file(Path::new("a/b/c/x.jpg")));
        assert!(s.takes_file(Path::new("a/x.jpg")));
    }

    #[test]
    fn exclude_wins_and_prunes_folders() {
        let s = selection(&["*.jpg"], &["thumbs", "raw/**"]);
        assert!(!s.takes_folder(Path::new("a/thumbs")));
        assert!(s.takes_folder(Path::new("a/raw")));
        assert!(!s.takes_file(Path::new("raw/x.jpg")));
        assert!(s.takes_file(Path::new("a/raw/x.jpg")));
    }

    #[test]
    fn hidden_names_anywhere_in_the_path_are_skipped_unless_asked() {
        let mut s = Selection::default();
        assert!(!s.takes_file(Path::new("._photo.jpg")));
        assert!(!s.takes_file(Path::new(".cache/photo.jpg")));
        assert!(!s.takes_folder(Path::new("a/.git")));
        s.hidden = true;
        assert!(s.takes_file(Path::new("._photo.jpg")));
        assert!(s.takes_folder(Path::new("a/.git")));
    }

    #[test]
    fn listed_paths_below_the_current_folder_keep_their_folders() {
        assert_eq!(
            below_current_folder(Path::new("./a/./b.jpg")),
            Some(PathBuf::from("a/b.jpg"))
        );
        assert_eq!(below_current_folder(Path::new("../b.jpg")), None);
        assert_eq!(below_current_folder(Path::new("a/../../b.jpg")), None);
        assert_eq!(below_current_folder(Path::new("/tmp/b.jpg")), None);
    }

    #[test]
    fn lists_split_on_newlines_or_nul_and_are_bounded() {
        let list = Path::new("-");
        let got = read_path_list(&b"a.jpg\n\nb c.png\n"[..], false, 100, list).unwrap();
        assert_eq!(got, [PathBuf::from("a.jpg"), "b c.png".into()]);
        let got = read_path_list(&b"a\nb.jpg\0c.png\0"[..], true, 100, list).unwrap();
        assert_eq!(got, [PathBuf::from("a\nb.jpg"), "c.png".into()]);
        assert!(matches!(
            read_path_list(&b"a.jpg\0"[..], false, 100, list),
            Err(SelectionError::ListLooksNulSeparated { .. })
        ));
        assert!(matches!(
            read_path_list(&[b'a'; 101][..], false, 100, list),
            Err(SelectionError::ListTooLarge { .. })
        ));
        assert!(read_path_list(&[b'a'; 100][..], false, 100, list).is_ok());
    }
}
