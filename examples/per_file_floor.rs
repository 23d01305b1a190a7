//! What a batch of many small files costs at the least, before any pipeline: each level adds
//! one kind of per-file work to the one before, on THREADS threads taking files in turn, with
//! nothing else (no plan, no per-stage clocks, no checks, no report).
//!
//! - `io`: read the file whole, then write a fixed PNG of BYTES bytes atomically the cheapest
//!   way Linux has (an unnamed `O_TMPFILE` file in the output folder, linked under its name).
//! - `decode`: `io` plus the decode `graypipe run` does (`codec::decode_as`: libjpeg-turbo with
//!   OpenCV's settings), the fixed PNG still written.
//! - `full`: `decode` plus gray, the operation SPEC and the PNG encode, whose result is written
//!   instead of the fixed bytes: `graypipe run`'s work without its machinery.
//!
//! Time the whole process, as for `graypipe run`, into a folder that does not exist yet:
//!
//!     cargo build --release --example per_file_floor
//!     /usr/bin/time target/release/examples/per_file_floor io IN OUT [THREADS] [SPEC] [BYTES]
//!
//! Files are listed with walkdir before any is read, and outputs mirror the tree as `NAME.png`.
//! Linux only (O_TMPFILE); it refuses to write into a folder that exists.

#[cfg(target_os = "linux")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    linux::main()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("per_file_floor: Linux only (O_TMPFILE)");
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use graypipe::codec::{
        decode_as, encode, DecodeLimits, OutputFormat, PngCompression, ReadMode,
    };
    use graypipe::ops::{operation::apply, to_gray, Luma, Operation};

    #[derive(Clone, Copy, PartialEq, PartialOrd)]
    enum Level {
        Io,
        Decode,
        Full,
    }

    type Error = Box<dyn std::error::Error + Send + Sync>;

    /// Opens `path` with `flags` relative to `dir` (or the working folder).
    fn open_at(dir: Option<&OwnedFd>, path: &[u8], flags: libc::c_int) -> std::io::Result<OwnedFd> {
        let c = CString::new(path)?;
        let at = dir.map_or(libc::AT_FDCWD, |d| d.as_raw_fd());
        // SAFETY: `c` is a NUL-terminated path that outlives the call; `at` is AT_FDCWD or an
        // open descriptor owned by the caller.
        let fd = unsafe { libc::openat(at, c.as_ptr(), flags, 0o666) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by openat and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Writes `bytes` as `name` in `folder`, atomically: an unnamed file, then one link.
    fn write_atomic(folder: &Path, name: &[u8], bytes: &[u8]) -> Result<(), Error> {
        let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
        let dir = open_at(None, folder.as_os_str().as_bytes(), flags)?;
        let file = open_at(
            Some(&dir),
            b".",
            libc::O_WRONLY | libc::O_TMPFILE | libc::O_CLOEXEC,
        )?;
        let mut f = std::fs::File::from(file);
        std::io::Write::write_all(&mut f, bytes)?;
        let c = CString::new(name)?;
        // SAFETY: both descriptors are open for the call; `c` is NUL-terminated; the empty
        // path with AT_EMPTY_PATH names `f` itself.
        let rc = unsafe {
            libc::linkat(
                f.as_raw_fd(),
                c"".as_ptr(),
                dir.as_raw_fd(),
                c.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(())
    }

    fn one_file(
        level: Level,
        op: &Operation,
        input: &Path,
        output: &Path,
        fixed: &[u8],
        buffers: &mut (Vec<u8>, Vec<u8>, Vec<u8>),
    ) -> Result<(), Error> {
        let bytes = std::fs::read(input)?;
        let (gray, scratch, png) = buffers;
        let mut out = fixed;
        if level >= Level::Decode {
            let img = decode_as(&bytes, &DecodeLimits::default(), ReadMode::Color)?;
            if level == Level::Full {
                to_gray(&img.data, img.layout, Luma::Bt601, gray);
                let (w, h) = (img.width as usize, img.height as usize);
                apply(op, w, h, gray, scratch)?;
                let one_bit = op.is_two_valued();
                encode(
                    gray,
                    img.width,
                    img.height,
                    OutputFormat::Png,
                    one_bit,
                    PngCompression::Fast,
                    png,
                )?;
                out = png;
            }
        }
        let folder = output.parent().ok_or("output without a folder")?;
        let name = output.file_name().ok_or("output without a name")?;
        write_atomic(folder, name.as_bytes(), out)
    }

    pub fn main() -> Result<(), Box<dyn std::error::Error>> {
        let args: Vec<String> = std::env::args().collect();
        let usage = "usage: per_file_floor io|decode|full IN OUT [THREADS] [SPEC] [BYTES]";
        let (Some(level), Some(input), Some(output)) = (args.get(1), args.get(2), args.get(3))
        else {
            return Err(usage.into());
        };
        let level = match level.as_str() {
            "io" => Level::Io,
            "decode" => Level::Decode,
            "full" => Level::Full,
            _ => return Err(usage.into()),
        };
        let threads: usize = args.get(4).map_or(Ok(2), |s| s.parse())?;
        let op: Operation = args
            .get(5)
            .map_or("adaptive-gaussian:11:2", String::as_str)
            .parse()?;
        let bytes: usize = args.get(6).map_or(Ok(673), |s| s.parse())?;
        let fixed: Vec<u8> = (0..bytes).map(|i| (i * 31 % 251) as u8).collect();
        let (input, output) = (PathBuf::from(input), PathBuf::from(output));
        if output.exists() {
            return Err(format!("{} exists: give a folder that does not", output.display()).into());
        }
        std::fs::create_dir_all(&output)?;

        let mut jobs = Vec::new();
        for entry in walkdir::WalkDir::new(&input).sort_by_file_name() {
            let entry = entry?;
            let rel = entry.path().strip_prefix(&input)?.to_path_buf();
            if entry.file_type().is_dir() {
                if !rel.as_os_str().is_empty() {
                    std::fs::create_dir(output.join(&rel))?;
                }
            } else if entry.file_type().is_file() {
                let out = output.join(&rel).with_extension("png");
                jobs.push((entry.into_path(), out));
            }
        }

        let next = AtomicUsize::new(0);
        let failed = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..threads.max(1) {
                s.spawn(|| {
                    let mut buffers = Default::default();
                    while let Some((i, o)) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                        if let Err(e) = one_file(level, &op, i, o, &fixed, &mut buffers) {
                            eprintln!("{}: {e}", i.display());
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        let failed = failed.into_inner();
        println!("{} files, {failed} failed", jobs.len());
        if failed > 0 {
            std::process::exit(1);
        }
        Ok(())
    }
}
