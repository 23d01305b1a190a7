//! Finding input files: files given directly, and image files under folders, walked
//! recursively in a stable sorted order.

use std::path::{Path, PathBuf};

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
}

/// Lists the files under `inputs`. A folder contributes the image files below it (by
/// extension); a file given directly is taken whatever its extension. Symbolic links are
/// followed only with `follow_links`, and then loops are reported instead of followed.
pub fn discover(inputs: &[PathBuf], follow_links: bool) -> Listing {
    let mut listing = Listing::default();
    for root in inputs {
        let meta = match std::fs::metadata(root) {
            Ok(m) => m,
            Err(e) => {
                listing.errors.push(DiscoveryError {
                    path: root.clone(),
                    reason: crate::error::io_reason(&e),
                });
                continue;
            }
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
        walk_folder(root, follow_links, &mut listing);
    }
    listing
}

fn walk_folder(root: &Path, follow_links: bool, listing: &mut Listing) {
    let walker = WalkDir::new(root)
        .follow_links(follow_links)
        .sort_by_file_name();
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
            listing.folders.push(entry.path().to_path_buf());
            continue;
        }
        // Without --follow-links a link is reported by its own type: never a file to take.
        // FIFOs, devices and sockets are not pictures: left alone, never opened.
        if !entry.file_type().is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy();
        if name.starts_with(TEMP_PREFIX) || InputFormat::from_path(entry.path()).is_none() {
            continue;
        }
        let relative = entry
            .path()
            .strip_prefix(root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| PathBuf::from(entry.file_name()));
        listing.found.push(Discovered {
            input: entry.into_path(),
            relative,
            root: Some(root.to_path_buf()),
        });
    }
}
