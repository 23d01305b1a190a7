//! Per-file cost of each way of writing an output (`graypipe::atomic_write::WriteScheme`), in
//! the states users meet: an empty folder on a settled disk, outputs already there (a rerun
//! replaces them) and an empty folder right after `rm -rf` of the previous output. Prints one
//! line per scheme and state.
//!
//!     cargo run --release --example write_schemes -- DIR [FILES] [BYTES]
//!
//! DIR is created and emptied by the run; use a folder on the disk being studied (never one
//! holding anything of value). Defaults: 10,000 files of 4,000 bytes (a tile's PNG).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use graypipe::atomic_write::{write_with, WriteScheme};

fn run(scheme: WriteScheme, dir: &Path, files: usize, data: &[u8]) -> std::io::Result<Duration> {
    let start = Instant::now();
    for i in 0..files {
        // 25 sub-folders of files / 25, as the study's tree.
        let path = dir.join(format!("d{:02}/f{i:05}.png", i % 25));
        write_with(scheme, &path, data)?;
    }
    Ok(start.elapsed())
}

/// Writes back everything dirty and waits a little: the next timed state starts on a settled
/// disk.
fn settle() {
    #[cfg(unix)]
    // SAFETY: sync has no preconditions; it only asks the kernel to write dirty data back.
    unsafe {
        libc::sync()
    };
    std::thread::sleep(Duration::from_secs(2));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let Some(root) = args.get(1).map(PathBuf::from) else {
        eprintln!("usage: write_schemes DIR [FILES] [BYTES]");
        std::process::exit(2);
    };
    let files: usize = args.get(2).map_or(Ok(10_000), |s| s.parse())?;
    let bytes: usize = args.get(3).map_or(Ok(4_000), |s| s.parse())?;
    let data: Vec<u8> = (0..bytes).map(|i| (i * 31 % 251) as u8).collect();
    println!("scheme,state,files,seconds,microseconds_per_file");
    // Each scheme meets the three states in turn: an empty folder on a settled disk, its own
    // outputs already there (a rerun replaces them), and an empty folder right after `rm -rf`
    // of those outputs (ext4 is then still freeing the deleted inodes).
    for scheme in WriteScheme::ALL {
        let dir = root.join(format!("{scheme:?}"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        for state in ["fresh_settled", "replace_existing", "fresh_after_rm"] {
            // Every state starts from a disk with nothing left to write back (the previous
            // state's files reach the disk first): otherwise each state pays for the last.
            settle();
            if state == "fresh_after_rm" {
                std::fs::remove_dir_all(&dir)?;
            }
            if state != "replace_existing" {
                for d in 0..25 {
                    std::fs::create_dir_all(dir.join(format!("d{d:02}")))?;
                }
            }
            match run(scheme, &dir, files, &data) {
                Ok(t) => println!(
                    "{scheme:?},{state},{files},{:.4},{:.1}",
                    t.as_secs_f64(),
                    t.as_secs_f64() * 1e6 / files as f64
                ),
                Err(e) => println!("{scheme:?},{state},{files},error: {e},"),
            }
        }
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}
