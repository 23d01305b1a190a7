//! graypipe: parallel batch grayscale and threshold conversion of image folders, with the same
//! pixels OpenCV gives, and Amdahl-style reports of how the work scales.
//!
//! The parts, each free of the others' concerns:
//! - [`ops`]: pixel kernels (gray, fixed/Otsu/Triangle/adaptive thresholds), pure functions.
//! - [`codec`]: decoding with `cv2.imread` semantics and limits; encoding.
//! - [`input`]: bounded reading of one input file (regular files only, never a hang).
//! - [`batch`]: finding input files and naming outputs; refusing unsafe batches.
//! - [`pipeline`]: the five stages and the staged, rayon and serial engines.
//! - [`sweep`]: worker-count sweeps and the Amdahl math, pure functions over timing records.
//! - [`report`]: the run's JSON record and table; the sweep's table and exports.
//! - [`trace`]: the per-file stage timeline of a run (`--trace`, the HTML report).
//! - `storage` (feature `object-store`): `s3://`, `gs://`, `az://` inputs, outputs and reports.
//!
//! The command line over all of it is the `graypipe` binary's (`src/main.rs`, `src/cli/`),
//! built with the default `binary` feature; the library itself does not depend on clap.
//!
//! One file, no threads:
//! ```no_run
//! use graypipe::{convert_file, codec::OutputFormat, Settings};
//! let settings = Settings { operation: "otsu".parse()?, ..Settings::default() };
//! convert_file("in.jpg".as_ref(), "out.png".as_ref(), OutputFormat::Png, &settings)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod atomic_write;
pub mod batch;
pub mod codec;
pub mod error;
pub mod input;
pub mod ops;
pub mod pipeline;
pub mod report;
pub mod run;
#[cfg(feature = "object-store")]
pub mod storage;
pub mod sweep;
pub mod trace;
pub mod write_target;

pub use pipeline::{
    convert_file, CancelToken, Engine, EngineConfig, Settings, StageCaps, StageWorkers,
};
pub use run::{run, FileStatus, RunSummary};
