//! From discovered files to jobs: output names that mirror the input tree, and the checks that
//! refuse a batch before any work starts (collisions, output inside an input folder, an output
//! that would overwrite an input).
//!
//! Places are compared twice: as resolved paths (symbolic links and `..` resolved the way the
//! kernel does, so `out/link/..` is where `link` points, not `out`), and by file identity
//! (device and inode), so that links, `..` tricks and bind mounts cannot make two spellings
//! of one folder or file look different.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};

use crate::error::printable_path as shown;

use super::discover::{discover_selected, Discovered, DiscoveryError, Listing, Selection};
use super::naming::{output_relative, NameTemplate};
use crate::atomic_write::{folder_of, ProtectedFolders};
use crate::codec::{FormatChoice, OutputFormat};

/// Settings that shape the plan.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Output format choice.
    pub format: FormatChoice,
    /// Follow symbolic links while walking folders.
    pub follow_links: bool,
    /// Leave out jobs whose output file already exists.
    pub skip_existing: bool,
    /// Which files folders and `--files-from` lists contribute.
    pub selection: Selection,
    /// Output file names (`--name`, `--suffix`); None mirrors the input names.
    pub naming: Option<NameTemplate>,
}

/// One file to convert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Position in the plan, stable across engines.
    pub index: usize,
    /// The file to read.
    pub input: PathBuf,
    /// The file to write.
    pub output: PathBuf,
    /// The format to write it in.
    pub format: OutputFormat,
    /// Whether something stood at `output` when the plan was made (`None`: not looked at).
    /// It only picks the cheaper way to write; the write is atomic and correct either way.
    pub existing_output: Option<bool>,
    /// The folders that hold the batch's inputs, by identity: the write never puts this
    /// output into one of them, even if a folder of the output tree becomes a link to one
    /// during the run. Empty: not checked.
    pub input_folders: ProtectedFolders,
}

/// Everything a run will do.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Files to convert, in stable order.
    pub jobs: Vec<Job>,
    /// Files left out because their output exists (`--skip-existing`).
    pub skipped: Vec<Job>,
    /// Paths that could not be listed; each counts as a failed file.
    pub discovery_errors: Vec<DiscoveryError>,
    /// Symbolic link loops that were not followed (warnings only).
    pub warnings: Vec<DiscoveryError>,
}

/// A batch refused before any work started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// Several inputs would write the same output.
    Collisions(Vec<(PathBuf, Vec<PathBuf>)>),
    /// The output folder lies inside an input folder.
    OutputInsideInput {
        /// The output folder.
        output: PathBuf,
        /// The input folder holding it.
        input: PathBuf,
    },
    /// Outputs that would replace input files.
    OverwritesInput(Vec<PathBuf>),
    /// A folder walked for inputs (reached through a symbolic link with `--follow-links`)
    /// lies inside the output folder: earlier results would be read back as inputs.
    InputInsideOutput {
        /// The folder as reached from the inputs.
        input: PathBuf,
        /// The output folder.
        output: PathBuf,
    },
    /// Outputs would be written into a folder that is also an input folder (reached through a
    /// symbolic link or a bind mount in the output tree, or a walked link).
    OutputIntoInput {
        /// The folder outputs would go to.
        folder: PathBuf,
        /// The input folder it is.
        input: PathBuf,
    },
    /// The output folder, or a folder it would be created in, exists and is not a folder (a
    /// file, a device, a FIFO).
    OutputNotFolder {
        /// The output folder as given.
        output: PathBuf,
        /// The existing path that is not a folder.
        blocker: PathBuf,
        /// What it is, in words.
        kind: &'static str,
    },
    /// Outputs (with the input each comes from) that are also folders other outputs go into.
    OutputIsAlsoFolder(Vec<(PathBuf, PathBuf)>),
    /// Folders outputs would go into that cannot be made: a path above them (with what it
    /// is, in words) exists and is not a folder.
    OutputFolderBlocked(Vec<(PathBuf, &'static str)>),
    /// `--report FILE` names an input of the run.
    ReportIsInput(PathBuf),
    /// `--report FILE` names an output of the run.
    ReportIsOutput(PathBuf),
    /// `--report FILE` cannot take a report (a folder, FIFO, device or socket; a link loop).
    ReportUnusable {
        /// The path as given.
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
}

impl Plan {
    /// The folders no output of this plan may go into, by identity (every job carries them).
    pub fn input_folders(&self) -> ProtectedFolders {
        self.jobs
            .iter()
            .chain(&self.skipped)
            .next()
            .map(|j| j.input_folders.clone())
            .unwrap_or_default()
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Collisions(list) => {
                writeln!(f, "refused: {} output(s) would be written by more than one input:", list.len())?;
                for (out, ins) in list {
                    writeln!(f, "  {} <- {}", shown(out), join(ins))?;
                }
                write!(f, "name the outputs apart (--suffix _bw, or --name '{{stem}}.{{ext}}' to keep each input's extension in its name), or rename the inputs")
            }
            PlanError::OutputInsideInput { output, input } => write!(
                f,
                "refused: output folder {} is inside input folder {}; its results would be read back as inputs. Choose an output folder outside the inputs",
                shown(output),
                shown(input)
            ),
            PlanError::OverwritesInput(paths) => {
                writeln!(f, "refused: outputs would overwrite these inputs:")?;
                for p in paths {
                    writeln!(f, "  {}", shown(p))?;
                }
                write!(f, "choose another output folder or --format")
            }
            PlanError::InputInsideOutput { input, output } => write!(
                f,
                "refused: input folder {} lies inside output folder {}; earlier results would be read back as inputs. Remove the link or choose another output folder",
                shown(input),
                shown(output)
            ),
            PlanError::OutputNotFolder {
                output,
                blocker,
                kind,
            } => write!(
                f,
                "refused: output folder {}: {} {}; choose a folder for -o",
                shown(output),
                shown(blocker),
                kind
            ),
            PlanError::OutputIsAlsoFolder(list) => {
                writeln!(f, "refused: {} output(s) would also be folders that other outputs go into:", list.len())?;
                for (out, input) in list {
                    writeln!(f, "  {} <- {}", shown(out), shown(input))?;
                }
                write!(f, "name the outputs apart (--suffix _bw, or --name '{{stem}}.{{ext}}'), or rename the inputs")
            }
            PlanError::OutputFolderBlocked(list) => {
                writeln!(f, "refused: outputs would go into folders that cannot be made:")?;
                for (path, kind) in list {
                    writeln!(f, "  {} {}", shown(path), kind)?;
                }
                write!(f, "move it away or choose another output folder")
            }
            PlanError::ReportIsInput(p) => write!(
                f,
                "refused: report {} is an input of this run; choose another --report path",
                shown(p)
            ),
            PlanError::ReportIsOutput(p) => write!(
                f,
                "refused: report {} is an output of this run; choose another --report path",
                shown(p)
            ),
            PlanError::ReportUnusable { path, reason } => write!(
                f,
                "refused: report {}: {}",
                shown(path),
                crate::error::printable(reason)
            ),
            PlanError::OutputIntoInput { folder, input } => write!(
                f,
                "refused: outputs would be written into {}, which is input folder {}. Choose another output folder (or remove the link that leads there)",
                shown(folder),
                shown(input)
            ),
        }
    }
}

impl std::error::Error for PlanError {}

fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| shown(p))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resolves `p` to an absolute path the way the kernel would: the longest leading part that
/// exists is canonicalized as written (so `link/..` is the parent of the link's target, not
/// the folder holding the link), and the rest, which does not exist yet, is cleaned of `.` and
/// `..` as text.
pub fn resolve(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let parts: Vec<Component> = abs.components().collect();
    for split in (1..=parts.len()).rev() {
        let head: PathBuf = parts[..split].iter().collect();
        if let Ok(mut out) = head.canonicalize() {
            push_clean(&mut out, &parts[split..]);
            return out;
        }
    }
    let mut out = PathBuf::new();
    push_clean(&mut out, &parts);
    out
}

fn push_clean(out: &mut PathBuf, parts: &[Component]) {
    for c in parts {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
}

/// Device and inode: what makes two paths one file or folder.
pub(crate) type FileId = (u64, u64);

/// The identity of what `p` names, links followed; `None` when it does not exist.
#[cfg(unix)]
pub fn file_id(p: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
pub fn file_id(_: &Path) -> Option<FileId> {
    None
}

#[cfg(unix)]
fn meta_id(m: &std::fs::Metadata) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn meta_id(_: &std::fs::Metadata) -> Option<FileId> {
    None
}

/// The input folders by identity, and which existing folders are known to lie outside all of
/// them.
struct InputFolders {
    ids: HashMap<FileId, PathBuf>,
    outside: HashMap<PathBuf, Option<PathBuf>>,
}

impl InputFolders {
    fn new(folders: &[PathBuf]) -> Self {
        let ids = folders
            .iter()
            .filter_map(|f| file_id(f).map(|id| (id, f.clone())))
            .collect();
        InputFolders {
            ids,
            outside: HashMap::new(),
        }
    }

    /// The input folder that `resolved` (a resolved path) is, or lies inside, by identity of
    /// it and each of its existing ancestors.
    fn containing(&mut self, resolved: &Path) -> Option<PathBuf> {
        if let Some(known) = self.outside.get(resolved) {
            return known.clone();
        }
        let here = file_id(resolved).and_then(|id| self.ids.get(&id).cloned());
        let found = match here {
            Some(f) => Some(f),
            None => match resolved.parent() {
                Some(parent) => self.containing(parent),
                None => None,
            },
        };
        self.outside.insert(resolved.to_path_buf(), found.clone());
        found
    }
}

/// Builds the plan: lists the inputs, names each output under `out_dir` and refuses
/// collisions, an output folder inside an input folder and outputs that overwrite inputs.
pub fn plan(inputs: &[PathBuf], out_dir: &Path, opts: &PlanOptions) -> Result<Plan, PlanError> {
    // The nearest existing path at or above the output folder must be a folder: otherwise
    // every file would fail to be written (or -o names an input file, a device...).
    let existing = out_dir
        .ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .find_map(|a| std::fs::metadata(a).ok().map(|m| (a, m)));
    if let Some((blocker, meta)) = existing.filter(|(_, m)| !m.is_dir()) {
        return Err(PlanError::OutputNotFolder {
            output: out_dir.to_path_buf(),
            blocker: blocker.to_path_buf(),
            kind: crate::input::kind_of(&meta).unwrap_or("is a file, not a folder"),
        });
    }
    let out_resolved = resolve(out_dir);
    for input in inputs.iter().filter(|p| p.is_dir()) {
        let folder = resolve(input);
        if out_resolved.starts_with(&folder) {
            return Err(PlanError::OutputInsideInput {
                output: out_dir.to_path_buf(),
                input: input.clone(),
            });
        }
    }
    let Listing {
        found,
        errors: discovery_errors,
        loops,
        folders,
    } = discover_selected(inputs, opts.follow_links, &opts.selection);
    let mut input_folders = InputFolders::new(&folders);
    // The output folder, or a folder holding it, walked as an input (through a link, a bind
    // mount or a second spelling the text check above did not see).
    if let Some(input) = input_folders.containing(&out_resolved) {
        return Err(PlanError::OutputInsideInput {
            output: out_dir.to_path_buf(),
            input,
        });
    }
    // A folder reached through a followed link that lies inside the output folder: earlier
    // results would be read back. (Without --follow-links every walked folder lies below its
    // input folder, which was checked above.)
    if opts.follow_links {
        for folder in &folders {
            if resolve(folder).starts_with(&out_resolved) {
                return Err(PlanError::InputInsideOutput {
                    input: folder.clone(),
                    output: out_dir.to_path_buf(),
                });
            }
        }
    }

    // Resolving a path costs a system call per component, so each folder is resolved once and
    // the relative paths below it are joined on. Each output folder is resolved (links inside
    // the output tree followed, `..` as the kernel takes it) and identified by device and
    // inode when it exists: two spellings of one place are one output.
    let mut resolved_roots: HashMap<PathBuf, PathBuf> = HashMap::new();
    let mut out_folders: HashMap<PathBuf, OutputFolder> = HashMap::new();
    let mut by_output: HashMap<OutputKey, Vec<PathBuf>> = HashMap::new();
    let mut order = Vec::new();
    let mut jobs = Vec::with_capacity(found.len());
    let mut inputs_resolved = HashSet::with_capacity(found.len());
    for Discovered {
        input,
        relative,
        root,
    } in found
    {
        let format = opts.format.for_input(&input);
        let relative_out = output_relative(opts.naming.as_ref(), &relative, format.extension());
        let output = out_dir.join(&relative_out);
        let folder = out_folders
            .entry(folder_of(&relative_out).to_path_buf())
            .or_insert_with(|| OutputFolder::new(folder_of(&output)));
        let name = relative_out.file_name().unwrap_or_default().to_os_string();
        let resolved_output = folder.resolved.join(&name);
        let key = match folder.id {
            Some(id) => OutputKey::InFolder(id, name),
            None => OutputKey::At(resolved_output.clone()),
        };
        let input_key = match root {
            Some(root) => resolved_roots
                .entry(root)
                .or_insert_with_key(|r| resolve(r))
                .join(&relative),
            None => resolve(&input),
        };
        inputs_resolved.insert(input_key);
        let entry = by_output.entry(key.clone()).or_default();
        if entry.is_empty() {
            order.push((key, resolved_output.clone()));
        }
        entry.push(input.clone());
        jobs.push((
            resolved_output,
            Job {
                index: 0,
                input,
                output,
                format,
                existing_output: None,
                input_folders: ProtectedFolders::default(),
            },
        ));
    }
    let collisions: Vec<(PathBuf, Vec<PathBuf>)> = order
        .iter()
        .filter_map(|(k, shown)| {
            by_output
                .get(k)
                .filter(|v| v.len() > 1)
                .map(|v| (shown.clone(), v.clone()))
        })
        .collect();
    if !collisions.is_empty() {
        return Err(PlanError::Collisions(collisions));
    }
    folder_clashes(&jobs, out_folders.values())?;
    // Every folder an output goes to, resolved (a link in the output tree may lead anywhere),
    // must lie outside every input folder.
    let mut seen_dirs: HashSet<&Path> = HashSet::new();
    for (_, job) in &jobs {
        let Some(dir) = job.output.parent() else {
            continue;
        };
        if !seen_dirs.insert(dir) {
            continue;
        }
        if let Some(input) = input_folders.containing(&resolve(dir)) {
            return Err(PlanError::OutputIntoInput {
                folder: dir.to_path_buf(),
                input,
            });
        }
    }
    let existing = existing_outputs(&mut jobs);
    let mut overwritten: Vec<PathBuf> = jobs
        .iter()
        .filter(|(key, _)| inputs_resolved.contains(key))
        .map(|(_, j)| j.input.clone())
        .collect();
    if overwritten.is_empty() {
        overwritten = inputs_by_identity(&jobs, &existing.files);
    }
    if !overwritten.is_empty() {
        return Err(PlanError::OverwritesInput(overwritten));
    }

    let jobs: Vec<Job> = jobs.into_iter().map(|(_, j)| j).collect();
    // From every input, skipped ones included: a resume must not clean or write inside them.
    let protected = input_folder_ids(&jobs, &input_folders, &existing.folders);
    let (mut skipped, mut jobs): (Vec<Job>, Vec<Job>) = jobs
        .into_iter()
        .partition(|j| opts.skip_existing && j.output.is_file());
    for (i, j) in jobs.iter_mut().enumerate() {
        j.index = i;
        j.input_folders = protected.clone();
    }
    for j in &mut skipped {
        j.input_folders = protected.clone();
    }
    Ok(Plan {
        jobs,
        skipped,
        discovery_errors,
        warnings: loops,
    })
}

/// One output folder as the plan found it.
struct OutputFolder {
    /// Resolved path.
    resolved: PathBuf,
    /// Device and inode, when it exists.
    id: Option<FileId>,
    /// When it does not exist: the nearest existing folder above it is not a folder (a file,
    /// a device...): that path and what it is.
    blocked: Option<(PathBuf, &'static str)>,
    /// When it does not exist: the folders the run would create for it, resolved.
    to_create: Vec<PathBuf>,
}

impl OutputFolder {
    fn new(folder: &Path) -> Self {
        let resolved = resolve(folder);
        let mut blocked = None;
        let mut to_create = Vec::new();
        let mut id = None;
        for (i, a) in resolved.ancestors().enumerate() {
            match std::fs::metadata(a) {
                Ok(m) if m.is_dir() => {
                    if i == 0 {
                        id = meta_id(&m);
                    }
                    break;
                }
                Ok(m) => {
                    let kind = crate::input::kind_of(&m).unwrap_or("is a file, not a folder");
                    blocked = Some((a.to_path_buf(), kind));
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    to_create.push(a.to_path_buf())
                }
                Err(_) => break,
            }
        }
        OutputFolder {
            resolved,
            id,
            blocked,
            to_create,
        }
    }
}

/// What makes an output one place: its existing folder's identity and its name, or, in a
/// folder the run creates, its resolved path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum OutputKey {
    InFolder(FileId, std::ffi::OsString),
    At(PathBuf),
}

/// Outputs and folders that cannot both be: an output where other outputs need a folder
/// (`in/x.jpg` next to a folder `in/x.png/`), and output folders whose nearest existing
/// ancestor is a file, a device or a FIFO. Found here, not as "Not a directory" per file.
fn folder_clashes<'a>(
    jobs: &[(PathBuf, Job)],
    folders: impl Iterator<Item = &'a OutputFolder> + Clone,
) -> Result<(), PlanError> {
    let mut blocked: Vec<(PathBuf, &'static str)> =
        folders.clone().filter_map(|f| f.blocked.clone()).collect();
    if !blocked.is_empty() {
        blocked.sort();
        blocked.dedup();
        return Err(PlanError::OutputFolderBlocked(blocked));
    }
    let to_create: HashSet<&Path> = folders
        .flat_map(|f| f.to_create.iter().map(PathBuf::as_path))
        .collect();
    if to_create.is_empty() {
        return Ok(());
    }
    let clashes: Vec<(PathBuf, PathBuf)> = jobs
        .iter()
        .filter(|(resolved, _)| to_create.contains(resolved.as_path()))
        .map(|(_, j)| (j.output.clone(), j.input.clone()))
        .collect();
    if clashes.is_empty() {
        Ok(())
    } else {
        Err(PlanError::OutputIsAlsoFolder(clashes))
    }
}

/// Inputs that an existing output file is (same device and inode: a hard link, or a symbolic
/// link to it), given the identities of the outputs that exist ([`existing_outputs`]); inputs
/// are looked at only when some output exists.
fn inputs_by_identity(jobs: &[(PathBuf, Job)], existing: &HashSet<FileId>) -> Vec<PathBuf> {
    if existing.is_empty() {
        return Vec::new();
    }
    jobs.iter()
        .filter(|(_, j)| file_id(&j.input).is_some_and(|id| existing.contains(&id)))
        .map(|(_, j)| j.input.clone())
        .collect()
}

/// The folders no output may go into, by identity: every folder walked for inputs, and the
/// folder of each input given as a file unless the plan writes outputs there itself (`graypipe
/// run a.jpg -o .` is allowed: its names were checked against the inputs above).
fn input_folder_ids(
    jobs: &[Job],
    walked: &InputFolders,
    output_folders: &HashSet<FileId>,
) -> ProtectedFolders {
    let parents: HashSet<&Path> = jobs.iter().map(|j| folder_of(&j.input)).collect();
    let mut ids: HashSet<FileId> = parents.into_iter().filter_map(file_id).collect();
    ids.retain(|id| !output_folders.contains(id));
    ids.extend(walked.ids.keys().copied());
    ProtectedFolders::new(ids)
}

/// Looks at what already stands at each output: sets `existing_output` and returns the
/// identities of those outputs. An output folder that does not exist holds none, so a fresh
/// output tree costs one `stat` per folder instead of one per file (10,000 small files: 10,000
/// system calls before the first file starts, all on one thread).
fn existing_outputs(jobs: &mut [(PathBuf, Job)]) -> ExistingOutputs {
    // Per output folder: whether it may hold outputs, and its identity when it exists.
    let mut folders: HashMap<PathBuf, (bool, Option<FileId>)> = HashMap::new();
    let mut files = HashSet::new();
    for (_, job) in jobs.iter_mut() {
        let folder = folder_of(&job.output);
        let (in_existing_folder, _) = *folders.entry(folder.to_path_buf()).or_insert_with(|| {
            // Only "not found" proves absence; any other answer (no permission, a loop...)
            // means each output is looked at on its own.
            match std::fs::metadata(folder) {
                Ok(m) => (true, meta_id(&m)),
                Err(e) => (e.kind() != std::io::ErrorKind::NotFound, None),
            }
        });
        if !in_existing_folder {
            job.existing_output = Some(false);
            continue;
        }
        // One `lstat`; a link is followed for its identity. A dangling link counts as
        // existing: the write does not take its name as free.
        let here = std::fs::symlink_metadata(&job.output).ok();
        job.existing_output = Some(here.is_some());
        let id = match here {
            Some(m) if m.file_type().is_symlink() => file_id(&job.output),
            Some(m) => meta_id(&m),
            None => None,
        };
        files.extend(id);
    }
    ExistingOutputs {
        files,
        folders: folders.into_values().filter_map(|(_, id)| id).collect(),
    }
}

/// What [`existing_outputs`] found, by identity.
struct ExistingOutputs {
    /// The outputs that exist.
    files: HashSet<FileId>,
    /// The output folders that exist.
    folders: HashSet<FileId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_says_which_outputs_exist() {
        let t = tempfile::tempdir().unwrap();
        let (input, out) = (t.path().join("in"), t.path().join("out"));
        for d in ["a", "b"] {
            std::fs::create_dir_all(input.join(d)).unwrap();
            std::fs::write(input.join(d).join("x.png"), b"").unwrap();
            std::fs::write(input.join(d).join("y.png"), b"").unwrap();
        }
        std::fs::create_dir_all(out.join("a")).unwrap();
        std::fs::write(out.join("a/x.png"), b"old").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(t.path().join("nowhere"), out.join("a/y.png")).unwrap();
        let p = plan(std::slice::from_ref(&input), &out, &PlanOptions::default()).unwrap();
        let seen: Vec<(String, Option<bool>)> = p
            .jobs
            .iter()
            .map(|j| {
                let rel = j.output.strip_prefix(&out).unwrap();
                (rel.to_string_lossy().replace('\\', "/"), j.existing_output)
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("a/x.png".to_string(), Some(true)),
                // A dangling link counts as there.
                ("a/y.png".to_string(), Some(cfg!(unix))),
                // A folder that does not exist holds nothing.
                ("b/x.png".to_string(), Some(false)),
                ("b/y.png".to_string(), Some(false)),
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn dot_dot_after_a_link_is_the_parent_of_its_target() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("in/sub")).unwrap();
        std::fs::create_dir(root.join("out")).unwrap();
        std::os::unix::fs::symlink(root.join("in/sub"), root.join("out/link")).unwrap();
        assert_eq!(resolve(&root.join("out/link/..")), root.join("in"));
        assert_eq!(
            resolve(&root.join("out/link/../new/./x/..")),
            root.join("in/new")
        );
        assert_eq!(resolve(&root.join("out/missing/../b")), root.join("out/b"));
        assert_eq!(resolve(&root.join("out/./link")), root.join("in/sub"));
    }
}
