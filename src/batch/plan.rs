//! From discovered files to jobs: output names that mirror the input tree, and the checks that
//! refuse a batch before any work starts (collisions, output inside an input folder, an output
//! that would overwrite an input).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};

use super::discover::{discover_selected, Discovered, DiscoveryError, Listing, Selection};
use super::naming::{output_relative, NameTemplate};
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
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Collisions(list) => {
                writeln!(f, "refused: {} output(s) would be written by more than one input:", list.len())?;
                for (out, ins) in list {
                    writeln!(f, "  {} <- {}", out.display(), join(ins))?;
                }
                write!(f, "name the outputs apart (--suffix _bw, or --name '{{stem}}.{{ext}}' to keep each input's extension in its name), or rename the inputs")
            }
            PlanError::OutputInsideInput { output, input } => write!(
                f,
                "refused: output folder {} is inside input folder {}; its results would be read back as inputs. Choose an output folder outside the inputs",
                output.display(),
                input.display()
            ),
            PlanError::OverwritesInput(paths) => {
                writeln!(f, "refused: outputs would overwrite these inputs:")?;
                for p in paths {
                    writeln!(f, "  {}", p.display())?;
                }
                write!(f, "choose another output folder or --format")
            }
        }
    }
}

impl std::error::Error for PlanError {}

fn join(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resolves `p` to an absolute path with `.` and `..` removed and symbolic links resolved in the
/// part that exists, so that two spellings of one place compare equal.
fn resolve(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut clean = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                clean.pop();
            }
            Component::CurDir => {}
            other => clean.push(other),
        }
    }
    // Canonicalize the longest prefix that exists; keep the rest as written.
    let mut rest = Vec::new();
    let mut head = clean.clone();
    loop {
        if let Ok(c) = head.canonicalize() {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (head.file_name().map(|n| n.to_os_string()), head.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                head = parent.to_path_buf();
            }
            _ => return clean,
        }
    }
}

/// Builds the plan: lists the inputs, names each output under `out_dir` and refuses
/// collisions, an output folder inside an input folder and outputs that overwrite inputs.
pub fn plan(inputs: &[PathBuf], out_dir: &Path, opts: &PlanOptions) -> Result<Plan, PlanError> {
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
    } = discover_selected(inputs, opts.follow_links, &opts.selection);

    // Resolving a path costs a system call per component, so each folder is resolved once and
    // the relative paths below it are joined on.
    let mut resolved_roots: HashMap<PathBuf, PathBuf> = HashMap::new();
    let mut by_output: HashMap<PathBuf, Vec<PathBuf>> = HashMap::new();
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
        let key = out_resolved.join(&relative_out);
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
            order.push(key.clone());
        }
        entry.push(input.clone());
        jobs.push((
            key,
            Job {
                index: 0,
                input,
                output: out_dir.join(relative_out),
                format,
            },
        ));
    }
    let collisions: Vec<(PathBuf, Vec<PathBuf>)> = order
        .iter()
        .filter_map(|k| {
            by_output
                .get(k)
                .filter(|v| v.len() > 1)
                .map(|v| (k.clone(), v.clone()))
        })
        .collect();
    if !collisions.is_empty() {
        return Err(PlanError::Collisions(collisions));
    }
    let overwritten: Vec<PathBuf> = jobs
        .iter()
        .filter(|(key, _)| inputs_resolved.contains(key))
        .map(|(_, j)| j.input.clone())
        .collect();
    if !overwritten.is_empty() {
        return Err(PlanError::OverwritesInput(overwritten));
    }
    let jobs: Vec<Job> = jobs.into_iter().map(|(_, j)| j).collect();

    let (skipped, mut jobs): (Vec<Job>, Vec<Job>) = jobs
        .into_iter()
        .partition(|j| opts.skip_existing && j.output.is_file());
    for (i, j) in jobs.iter_mut().enumerate() {
        j.index = i;
    }
    Ok(Plan {
        jobs,
        skipped,
        discovery_errors,
        warnings: loops,
    })
}
