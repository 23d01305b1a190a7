//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the graypipe binary with `args` and waits for it.
pub fn graypipe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_graypipe"))
        .args(args)
        .output()
        .expect("the graypipe binary runs")
}

/// A path as the &str that command lines take.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// The process's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file below `root` with its bytes, keyed by relative path.
pub fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(root).unwrap().to_path_buf(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// The relative paths of every file below `root`, sorted.
pub fn files_below(root: &Path) -> Vec<PathBuf> {
    tree(root).into_keys().collect()
}

/// Runs graypipe as an unprivileged user when the tests run as root (root reads and writes
/// anything, so permission cases need another user); `dirs` are opened up for that user.
pub fn graypipe_unprivileged(args: &[&str], dirs: &[&Path]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_graypipe"));
    cmd.args(args);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        use std::os::unix::process::CommandExt;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            for d in dirs {
                let mut p = Some(*d);
                while let Some(dir) = p {
                    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o777));
                    p = dir.parent().filter(|q| {
                        q.starts_with(std::env::temp_dir()) && *q != std::env::temp_dir()
                    });
                }
            }
            cmd.uid(65534).gid(65534);
        }
    }
    cmd.output().expect("graypipe runs")
}
