//! The one rule for every file graypipe writes that is not an output picture: run reports
//! (`run --report`), sweep exports and plots (`--export-json`, `--export-csv`,
//! `--export-markdown`, `--plot`) and merged records (`merge -o`).
//!
//! Such a file (a *record*) is checked before any work ([`record_target`]) and written by
//! [`write_record`]:
//! - Symbolic links are followed, as a shell's `>` follows them: the record is written at the
//!   link's target (a dangling link included) and the link stays.
//! - Refused: a path that is, by resolved path or by file identity (device and inode, so hard
//!   links, links, `..` and bind mounts are seen through), a file the command reads (an input,
//!   a `--files-from` list, a report being merged) or a file it writes (an output picture, the
//!   output folder or a folder holding it); an existing folder, FIFO, device or socket; a link
//!   loop; a missing folder outside the output folder (graypipe creates folders only inside
//!   the output folder); a folder this user cannot create files in.
//! - Written atomically (a temporary file in the same folder renamed over the target), and only
//!   if what stands there at that moment is still a regular file or nothing.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::batch::plan::{file_id, resolve};
use crate::error::{io_reason, printable_path};

/// Why a record cannot go where it was aimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// It is a file the command reads.
    IsInput,
    /// It is a file (or the folder) the command writes.
    IsOutput,
    /// An existing folder, FIFO, device or socket; what it is, in words.
    NotRegular(&'static str),
    /// It cannot take a record; the reason in words.
    Unusable(String),
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetError::IsInput => f.write_str("is an input of this command"),
            TargetError::IsOutput => f.write_str("is an output of this command"),
            TargetError::NotRegular(kind) => f.write_str(kind),
            TargetError::Unusable(reason) => f.write_str(reason),
        }
    }
}

/// Links followed before giving up, as the kernel's own limit.
const MAX_LINKS: usize = 40;

/// Follows `path` through symbolic links (dangling ones included: the record is then created
/// where the link points) and resolves the result.
pub fn follow(path: &Path) -> Result<PathBuf, TargetError> {
    let mut p = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to =
                    std::fs::read_link(&p).map_err(|e| TargetError::Unusable(io_reason(&e)))?;
                p = match p.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            _ => return Ok(resolve(&p)),
        }
    }
    Err(TargetError::Unusable(
        "too many levels of symbolic links".into(),
    ))
}

/// Decides where the record aimed at `path` goes: its resolved target, links followed.
/// `reads` are the files the command reads, `writes` the files it writes, `output_folder` the
/// folder it writes them under (None: it makes no folder). Checked by path and by identity;
/// see the module's rule.
pub fn record_target<'a>(
    path: &Path,
    reads: impl IntoIterator<Item = &'a Path>,
    writes: impl IntoIterator<Item = &'a Path> + Clone,
    output_folder: Option<&Path>,
) -> Result<PathBuf, TargetError> {
    let target = follow(path)?;
    if let Ok(meta) = std::fs::metadata(&target) {
        if let Some(kind) = crate::input::kind_of(&meta) {
            return Err(TargetError::NotRegular(kind));
        }
    }
    if let Some(id) = file_id(&target) {
        let read_ids: HashSet<_> = reads.into_iter().filter_map(file_id).collect();
        if read_ids.contains(&id) {
            return Err(TargetError::IsInput);
        }
        if writes.clone().into_iter().any(|w| file_id(w) == Some(id)) {
            return Err(TargetError::IsOutput);
        }
    }
    // By path too, for outputs that do not exist yet: an output is written at its resolved
    // folder (links in the output tree followed) under its own name. Only outputs with the
    // record's file name are resolved.
    let out_resolved = output_folder.map(resolve);
    if out_resolved
        .as_ref()
        .is_some_and(|o| o.starts_with(&target))
    {
        return Err(TargetError::IsOutput);
    }
    if let Some(name) = target.file_name() {
        let same_place = writes.into_iter().any(|w| {
            w.file_name() == Some(name)
                && resolve(crate::atomic_write::folder_of(w)).join(name) == target
        });
        if same_place {
            return Err(TargetError::IsOutput);
        }
    }
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        let inside_output = out_resolved
            .as_ref()
            .is_some_and(|o| resolve(parent).starts_with(o));
        if !parent.is_dir() && !inside_output {
            return Err(TargetError::Unusable(format!(
                "its folder {} does not exist (graypipe creates folders only inside the output folder)",
                printable_path(parent)
            )));
        }
    }
    if let Some(dir) = unwritable_folder(&target) {
        return Err(TargetError::Unusable(format!(
            "permission denied: cannot create files in {}",
            printable_path(&dir)
        )));
    }
    Ok(target)
}

/// The first pair of records of one command aimed at one file (by resolved target): each
/// would replace the other. `targets` pairs each record's option with its resolved target.
pub fn same_target<'a>(targets: &[(&'a str, &'a Path)]) -> Option<(&'a str, &'a str)> {
    for (i, (a, pa)) in targets.iter().enumerate() {
        if let Some((b, _)) = targets[i + 1..].iter().find(|(_, pb)| pb == pa) {
            return Some((a, b));
        }
    }
    None
}

/// Writes a record atomically at `target` (as [`record_target`] returned it), if what stands
/// there now is still a regular file or nothing: never renamed over a folder, FIFO, device,
/// socket or link that appeared since the check.
pub fn write_record(target: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Ok(meta) = std::fs::symlink_metadata(target) {
        if !meta.file_type().is_file() {
            return Err(crate::input::kind_of(&meta)
                .unwrap_or("is a symbolic link now")
                .to_string());
        }
    }
    crate::atomic_write::write_atomic(target, bytes)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The folder that would have to take the record (the nearest existing one above `target`:
/// the record is written under a temporary name there and renamed) when this user cannot
/// create files in it. Checked before the work so that it does not end with nowhere to put
/// its record.
#[cfg(unix)]
fn unwritable_folder(target: &Path) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let dir = target.ancestors().skip(1).find(|d| d.is_dir())?;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path; access only inspects it.
    let ok = unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0;
    (!ok).then(|| dir.to_path_buf())
}

#[cfg(not(unix))]
fn unwritable_folder(_: &Path) -> Option<PathBuf> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn reads_writes_specials_and_links_are_refused_and_links_followed() {
        use std::os::unix::fs::symlink;
        let t = tempfile::tempdir().unwrap();
        let d = t.path().canonicalize().unwrap();
        std::fs::create_dir_all(d.join("in")).unwrap();
        std::fs::create_dir_all(d.join("out/b")).unwrap();
        std::fs::write(d.join("in/a.png"), b"input").unwrap();
        symlink(d.join("out/b"), d.join("out/a")).unwrap();
        symlink(d.join("in/a.png"), d.join("to_input.json")).unwrap();
        std::fs::hard_link(d.join("in/a.png"), d.join("hard.json")).unwrap();
        symlink(d.join("new.json"), d.join("dangling.json")).unwrap();
        let input = d.join("in/a.png");
        let output = d.join("out/a/x.png");
        let out = d.join("out");
        let check = |p: &Path| {
            record_target(
                p,
                [input.as_path()],
                [output.as_path()],
                Some(out.as_path()),
            )
        };
        assert_eq!(check(&input), Err(TargetError::IsInput));
        assert_eq!(check(&d.join("to_input.json")), Err(TargetError::IsInput));
        assert_eq!(check(&d.join("hard.json")), Err(TargetError::IsInput));
        assert_eq!(check(&d.join("in/../in/a.png")), Err(TargetError::IsInput));
        // The output is written through the link out/a: out/b/x.png is that output.
        assert_eq!(check(&d.join("out/b/x.png")), Err(TargetError::IsOutput));
        // An output folder the run will create, or a file standing where it must go.
        let fresh = d.join("fresh/out");
        for p in [fresh.clone(), d.join("fresh")] {
            let got = record_target(&p, [], [output.as_path()], Some(fresh.as_path()));
            assert_eq!(got, Err(TargetError::IsOutput), "{p:?}");
        }
        assert!(matches!(check(&out), Err(TargetError::NotRegular(_))));
        assert!(
            matches!(check(&d.join("in")), Err(TargetError::NotRegular(r)) if r.contains("folder"))
        );
        assert!(
            matches!(check(&d.join("no/r.json")), Err(TargetError::Unusable(r)) if r.contains("does not exist"))
        );
        assert_eq!(check(&d.join("dangling.json")), Ok(d.join("new.json")));
        assert_eq!(
            check(&d.join("out/new/r.json")),
            Ok(d.join("out/new/r.json"))
        );
        assert_eq!(check(&d.join("r.json")), Ok(d.join("r.json")));
    }

    #[test]
    fn two_records_aimed_at_one_file_are_found() {
        let (a, b) = (Path::new("/x/a.json"), Path::new("/x/b.json"));
        assert_eq!(
            same_target(&[("--export-json", a), ("--plot", b), ("--export-csv", a)]),
            Some(("--export-json", "--export-csv"))
        );
        assert_eq!(same_target(&[("--export-json", a), ("--plot", b)]), None);
    }
}
