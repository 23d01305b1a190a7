//! `graypipe._graypipe`: the native half of the `graypipe` Python package.
//!
//! Thin on purpose: every function parses its arguments, calls the library's public entries
//! (`ops::bgr_to_gray`, `ops::apply`, `codec::decode`, `batch::plan`, `graypipe::run`,
//! `report::RunReport`, `sweep::run_sweep`) with the GIL released, and hands the result back.
//! The Python side (`graypipe/__init__.py`) adds defaults, docstrings and the exception classes.

use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;
use numpy::{PyArray1, PyArray2, PyArrayDyn, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;

use graypipe::batch::shard::{shard_plan, Shard, ShardBy, ShardSource};
use graypipe::batch::{plan, PlanOptions};
use graypipe::report::run_json::{ExactPath, ShardJob, ShardRecord};
use graypipe::codec::{DecodeLimits, FormatChoice, PngCompression, ReadMode};
use graypipe::ops::{self, Level, Luma, Operation};
use graypipe::pipeline::workers::StageOverrides;
use graypipe::pipeline::{stages, CancelToken, EngineConfig, Settings};
use graypipe::report::RunReport;
use graypipe::sweep::{parse_engines, parse_worker_list, run_sweep, Baseline, SweepPlan};

/// Raises `graypipe.<name>(message)`; the classes live in `graypipe/_errors.py` so that they
/// can derive from both `graypipe.Error` and the matching builtin.
fn error(py: Python<'_>, name: &str, message: String) -> PyErr {
    match py
        .import("graypipe._errors")
        .and_then(|m| m.getattr(name))
        .and_then(|cls| cls.call1((message.clone(),)))
    {
        Ok(exc) => PyErr::from_value(exc),
        Err(_) => PyRuntimeError::new_err(message),
    }
}

fn usage(py: Python<'_>, message: impl Into<String>) -> PyErr {
    error(py, "UsageError", message.into())
}

/// Runs `body`, turning a panic (a bug, or an abort-worthy size graypipe failed to check)
/// into `graypipe.Error` instead of PyO3's `PanicException`, which derives from
/// `BaseException` and escapes `except Exception`.
fn guard<T>(py: Python<'_>, what: &str, body: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(panic) => {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(error(
                py,
                "Error",
                format!("graypipe: internal error in {what}: {reason}"),
            ))
        }
    }
}

/// An empty buffer with room for `len` bytes, or `MemoryError` (never an abort) when the
/// allocator cannot give it (an address-space limit, an absurd size).
fn buffer(len: usize) -> PyResult<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| {
        PyMemoryError::new_err(format!(
            "graypipe: cannot allocate {len} bytes for the output"
        ))
    })?;
    Ok(v)
}

/// The most worker threads, as the CLI's `--workers` allows.
const MAX_WORKERS: usize = 1024;
/// The most files alive at once, as the CLI's `--in-flight` allows.
const MAX_IN_FLIGHT: usize = 65536;
/// The most runs of a sweep point, as the CLI's `--repeat` and `--max-runs` allow.
const MAX_RUNS: usize = 100_000;

/// Checks a count from Python against `1..=max` (or `0..=max` with `zero_ok`).
fn count(py: Python<'_>, what: &str, n: usize, zero_ok: bool, max: usize) -> PyResult<usize> {
    let min = usize::from(!zero_ok);
    if n < min || n > max {
        return Err(usage(
            py,
            format!("{what} must be in {min}..={max}, got {n}"),
        ));
    }
    Ok(n)
}

/// A `maxval` from Python: a finite number (any, saturated as OpenCV does).
fn finite_maxval(py: Python<'_>, maxval: f64) -> PyResult<f64> {
    if maxval.is_finite() {
        Ok(maxval)
    } else {
        Err(usage(py, format!("maxval {maxval} is not a finite number")))
    }
}

/// Pixels of a NumPy uint8 array in C order: borrowed when the array is C-contiguous, copied
/// otherwise. Returns the shape too.
enum Pixels<'py> {
    Borrowed(numpy::PyReadonlyArrayDyn<'py, u8>),
    Copied(Vec<u8>),
}

impl Pixels<'_> {
    fn slice(&self) -> &[u8] {
        match self {
            // C-contiguity was checked when the borrow was taken.
            Pixels::Borrowed(a) => a.as_slice().unwrap_or(&[]),
            Pixels::Copied(v) => v,
        }
    }
}

fn pixels<'py>(obj: &Bound<'py, PyAny>, expected: &str) -> PyResult<(Pixels<'py>, Vec<usize>)> {
    let array = match obj.cast::<PyArrayDyn<u8>>() {
        Ok(a) => a,
        Err(_) => {
            let got = match obj.getattr("dtype") {
                Ok(dtype) => format!("an array of dtype {}", dtype.str()?),
                Err(_) => format!("{}", obj.get_type().name()?),
            };
            return Err(PyValueError::new_err(format!(
                "expected a NumPy uint8 array ({expected}), got {got}"
            )));
        }
    };
    let shape = array.shape().to_vec();
    if shape.contains(&0) {
        return Err(PyValueError::new_err(format!(
            "expected a non-empty image ({expected}), got shape {}",
            py_shape(&shape)
        )));
    }
    let ro = array.try_readonly().map_err(|e| {
        PyValueError::new_err(format!("cannot read the array while it is borrowed: {e}"))
    })?;
    let px = if ro.as_slice().is_ok() {
        Pixels::Borrowed(ro)
    } else {
        // A strided or broadcast view: copied into C order, a buffer as large as the view's
        // logical size (a broadcast view may be far larger than the memory behind it).
        let view = ro.as_array();
        let mut copy = buffer(view.len())?;
        copy.extend(view.iter().copied());
        Pixels::Copied(copy)
    };
    Ok((px, shape))
}

/// A shape as Python prints it: `(4, 4, 3)`, `(4,)`.
fn py_shape(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn parse_luma(py: Python<'_>, luma: &str) -> PyResult<Luma> {
    match luma {
        "bt601" => Ok(Luma::Bt601),
        "bt709" => Ok(Luma::Bt709),
        _ => Err(usage(
            py,
            format!("unknown luma '{luma}': expected 'bt601' or 'bt709'"),
        )),
    }
}

/// One of the library's CLI option enums by its CLI name; the error lists the names.
fn value_enum<T: ValueEnum>(py: Python<'_>, what: &str, name: &str) -> PyResult<T> {
    T::from_str(name, false).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|p| format!("'{}'", p.get_name()))
            .collect();
        usage(
            py,
            format!(
                "unknown {what} '{name}': expected one of {}",
                names.join(", ")
            ),
        )
    })
}

fn gray_array<'py>(
    py: Python<'py>,
    data: Vec<u8>,
    height: usize,
    width: usize,
) -> PyResult<Bound<'py, PyAny>> {
    // from_vec hands the Vec to NumPy as the array's memory: no copy.
    Ok(PyArray1::from_vec(py, data)
        .reshape([height, width])?
        .into_any())
}

/// Output buffers of `threshold` whose arrays NumPy has freed, kept for the next calls.
///
/// Why: a fresh 2 MB buffer per call came from the kernel as fresh pages (glibc hands large
/// blocks freed on another thread back to the system), and faulting and zeroing those pages
/// took a quarter of the time of `threshold(g, "otsu")` from 2 threads, in the kernel's
/// shared page allocator. At most [`POOL_BUFFERS`] buffers and [`POOL_BYTES`] bytes wait here.
static POOL: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
const POOL_BUFFERS: usize = 16;
const POOL_BYTES: usize = 64 << 20;

/// A buffer of `len` bytes from the pool (the smallest that fits), else a new one, or
/// `MemoryError`. Its contents are old pixels or zeros: callers overwrite all `len` of them.
fn pooled_buffer(len: usize) -> PyResult<Vec<u8>> {
    let taken = POOL.lock().ok().and_then(|mut pool| {
        let best = pool
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= len)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i)?;
        Some(pool.swap_remove(best))
    });
    if let Some(mut b) = taken {
        b.resize(len, 0);
        return Ok(b);
    }
    // Zeroed pages: large blocks come zeroed from the kernel without a memset.
    let mut b = buffer(len)?;
    b.resize(len, 0);
    Ok(b)
}

/// The Python object owning a pooled output buffer: the base of the array `threshold` returns
/// (and of every view of it). When the last of them is freed the buffer goes back to the pool.
#[pyclass(module = "graypipe._graypipe")]
struct PooledBuffer(Vec<u8>);

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.0);
        if let Ok(mut pool) = POOL.lock() {
            let held: usize = pool.iter().map(Vec::capacity).sum();
            if pool.len() < POOL_BUFFERS && held + buf.capacity() <= POOL_BYTES {
                pool.push(buf);
            }
        }
    }
}

/// A `height` x `width` array over `data`, which its base object hands back to the pool.
fn pooled_gray_array(
    py: Python<'_>,
    data: Vec<u8>,
    height: usize,
    width: usize,
) -> PyResult<Bound<'_, PyAny>> {
    if data.len() != height * width {
        return Err(PyRuntimeError::new_err("graypipe: output size mismatch"));
    }
    let ptr = data.as_ptr();
    let owner = Bound::new(py, PooledBuffer(data))?;
    // SAFETY: `ptr` points at `height * width` initialised bytes (checked above) owned by the
    // Vec inside `owner`; that Vec is never touched again until `owner` is dropped, which
    // NumPy does only after the array and every view of it are gone (it is their base object).
    // Moving a Vec does not move its heap block, so `ptr` stays valid.
    let view = unsafe { numpy::ndarray::ArrayView2::from_shape_ptr((height, width), ptr) };
    // SAFETY: as above; the container keeps the memory alive and unchanged.
    let array = unsafe { PyArray2::borrow_from_array(&view, owner.into_any()) };
    Ok(array.into_any())
}

const IMAGE_SHAPES: &str = "H x W x 3 BGR, H x W x 4 BGRA or H x W gray";

/// `gray(img, luma)`.
#[pyfunction]
#[pyo3(signature = (img, luma = "bt601"))]
fn gray<'py>(py: Python<'py>, img: &Bound<'py, PyAny>, luma: &str) -> PyResult<Bound<'py, PyAny>> {
    guard(py, "gray", || gray_checked(py, img, luma))
}

fn gray_checked<'py>(
    py: Python<'py>,
    img: &Bound<'py, PyAny>,
    luma: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let luma = parse_luma(py, luma)?;
    let (px, shape) = pixels(img, IMAGE_SHAPES)?;
    let channels = match shape.as_slice() {
        [_, _] | [_, _, 1] => 1,
        [_, _, c @ (3 | 4)] => *c,
        _ => {
            return Err(PyValueError::new_err(format!(
                "expected {IMAGE_SHAPES} (uint8), got shape {}",
                py_shape(&shape)
            )))
        }
    };
    let src = px.slice();
    let mut out = buffer(shape[0].saturating_mul(shape[1]))?;
    let out = py.detach(|| {
        if channels == 1 {
            out.extend_from_slice(src);
        } else {
            ops::bgr_to_gray(src, channels, luma, &mut out);
        }
        out
    });
    gray_array(py, out, shape[0], shape[1])
}

/// `threshold(gray, spec, maxval) -> (level, out)`.
#[pyfunction]
#[pyo3(signature = (gray, spec, maxval = 255.0))]
fn threshold<'py>(
    py: Python<'py>,
    gray: &Bound<'py, PyAny>,
    spec: &str,
    maxval: f64,
) -> PyResult<(Option<f64>, Bound<'py, PyAny>)> {
    guard(py, "threshold", || {
        threshold_checked(py, gray, spec, maxval)
    })
}

fn threshold_checked<'py>(
    py: Python<'py>,
    gray: &Bound<'py, PyAny>,
    spec: &str,
    maxval: f64,
) -> PyResult<(Option<f64>, Bound<'py, PyAny>)> {
    let maxval = finite_maxval(py, maxval)?;
    let op = Operation::parse(spec, maxval).map_err(|e| usage(py, e.to_string()))?;
    const GRAY: &str = "H x W gray";
    let (px, shape) = pixels(gray, GRAY)?;
    let (h, w) = match shape.as_slice() {
        [h, w] | [h, w, 1] => (*h, *w),
        _ => {
            return Err(PyValueError::new_err(format!(
                "expected a 2-D gray uint8 array ({GRAY}; convert colour with graypipe.gray first), got shape {}",
                py_shape(&shape)
            )))
        }
    };
    let src = px.slice();
    let mut out = pooled_buffer(src.len())?;
    let (out, done) = py.detach(|| {
        // Read the input, write a recycled buffer: no copy of the input, no fresh pages.
        let done = ops::apply_into(&op, w, h, src, &mut out);
        (out, done)
    });
    // The array's own shape gave the size: a mismatch cannot happen, but is an error if it does.
    let done = done.map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    // cv2.threshold returns the level it used: an 8-bit image's fixed level floored.
    let level = match op {
        Operation::Threshold {
            level: Level::Fixed(_),
            ..
        } => done.level.map(f64::floor),
        _ => done.level,
    };
    Ok((level, pooled_gray_array(py, out, h, w)?))
}

/// `imread(path, gray)`.
#[pyfunction]
#[pyo3(signature = (path, gray = false, max_pixels = None))]
fn imread<'py>(
    py: Python<'py>,
    path: PathBuf,
    gray: bool,
    max_pixels: Option<u64>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(py, "imread", || imread_checked(py, path, gray, max_pixels))
}

fn imread_checked(
    py: Python<'_>,
    path: PathBuf,
    gray: bool,
    max_pixels: Option<u64>,
) -> PyResult<Bound<'_, PyAny>> {
    if max_pixels == Some(0) {
        return Err(usage(py, "max_pixels must be at least 1"));
    }
    let limits = max_pixels.map_or_else(DecodeLimits::default, |max_pixels| DecodeLimits {
        max_pixels,
    });
    let result = py.detach(|| -> Result<(Vec<u8>, usize, usize), String> {
        let bytes = stages::read(&path, &limits).map_err(|e| e.to_string())?;
        let mode = if gray {
            ReadMode::Gray
        } else {
            ReadMode::Color
        };
        let img = graypipe::codec::decode_as(&bytes, &limits, mode).map_err(|e| e.to_string())?;
        let (w, h) = (img.width as usize, img.height as usize);
        let data = if gray {
            // cv2.IMREAD_GRAYSCALE: the decoder's own gray (libjpeg's luma, libpng's weights).
            let mut out = Vec::new();
            ops::to_gray(&img.data, img.layout, Luma::Bt601, &mut out);
            out
        } else {
            img.to_bgr()
        };
        Ok((data, h, w))
    });
    let (data, h, w) =
        result.map_err(|e| error(py, "ImageError", format!("{}: {e}", path.display())))?;
    if gray {
        gray_array(py, data, h, w)
    } else {
        Ok(PyArray1::from_vec(py, data).reshape([h, w, 3])?.into_any())
    }
}

/// Options shared by `run` and `sweep`, parsed into the library's types.
struct Job {
    inputs: Vec<PathBuf>,
    plan_options: PlanOptions,
    settings: Settings,
}

#[allow(clippy::too_many_arguments)]
fn job(
    py: Python<'_>,
    inputs: Vec<PathBuf>,
    threshold: Option<&str>,
    maxval: f64,
    luma: &str,
    format: &str,
    bit_depth: &str,
    png_compression: &str,
    max_pixels: Option<u64>,
    follow_links: bool,
    skip_existing: bool,
) -> PyResult<Job> {
    if inputs.is_empty() {
        return Err(usage(py, "no inputs given"));
    }
    let maxval = finite_maxval(py, maxval)?;
    if max_pixels == Some(0) {
        return Err(usage(py, "max_pixels must be at least 1"));
    }
    let operation = match threshold {
        Some(spec) => Operation::parse(spec, maxval).map_err(|e| usage(py, e.to_string()))?,
        None => Operation::Gray,
    };
    let format: FormatChoice = format.parse().map_err(|e: String| usage(py, e))?;
    let one_bit_png = match bit_depth {
        "auto" => true,
        "8" => false,
        _ => {
            return Err(usage(
                py,
                format!("unknown bit_depth '{bit_depth}': expected 'auto' or '8'"),
            ))
        }
    };
    let png_compression: PngCompression = value_enum(py, "png_compression", png_compression)?;
    let mut limits = DecodeLimits::default();
    if let Some(m) = max_pixels {
        limits.max_pixels = m;
    }
    Ok(Job {
        inputs,
        plan_options: PlanOptions {
            format,
            follow_links,
            skip_existing,
            ..PlanOptions::default()
        },
        settings: Settings {
            operation,
            luma: parse_luma(py, luma)?,
            one_bit_png,
            png_compression,
            limits,
            ..Settings::default()
        },
    })
}

/// An optional count in `1..=max`.
fn positive(py: Python<'_>, what: &str, n: Option<usize>, max: usize) -> PyResult<Option<usize>> {
    n.map(|n| count(py, what, n, false, max)).transpose()
}

/// `_run(...) -> (report_json, keyboard_interrupt_or_None)`.
#[pyfunction]
#[pyo3(signature = (inputs, output, threshold, maxval, workers, engine, in_flight, luma,
    format, bit_depth, png_compression, max_pixels, follow_links, skip_existing, fail_fast,
    shard = None, shard_by = "size", files = None))]
#[allow(clippy::too_many_arguments)]
fn _run(
    py: Python<'_>,
    inputs: Vec<PathBuf>,
    output: PathBuf,
    threshold: Option<&str>,
    maxval: f64,
    workers: Option<usize>,
    engine: &str,
    in_flight: Option<usize>,
    luma: &str,
    format: &str,
    bit_depth: &str,
    png_compression: &str,
    max_pixels: Option<u64>,
    follow_links: bool,
    skip_existing: bool,
    fail_fast: bool,
    shard: Option<(u64, u64)>,
    shard_by: &str,
    files: Option<Vec<PathBuf>>,
) -> PyResult<(String, Option<Py<PyAny>>)> {
    guard(py, "run", || {
        run_checked(
            py,
            inputs,
            output,
            threshold,
            maxval,
            workers,
            engine,
            in_flight,
            luma,
            format,
            bit_depth,
            png_compression,
            max_pixels,
            follow_links,
            skip_existing,
            fail_fast,
            shard,
            shard_by,
            files,
        )
    })
}

#[allow(clippy::too_many_arguments)]
fn run_checked(
    py: Python<'_>,
    inputs: Vec<PathBuf>,
    output: PathBuf,
    threshold: Option<&str>,
    maxval: f64,
    workers: Option<usize>,
    engine: &str,
    in_flight: Option<usize>,
    luma: &str,
    format: &str,
    bit_depth: &str,
    png_compression: &str,
    max_pixels: Option<u64>,
    follow_links: bool,
    skip_existing: bool,
    fail_fast: bool,
    shard: Option<(u64, u64)>,
    shard_by: &str,
    files: Option<Vec<PathBuf>>,
) -> PyResult<(String, Option<Py<PyAny>>)> {
    let shard = shard
        .map(|(k, n)| Shard::new(k, n).map_err(|e| usage(py, e.to_string())))
        .transpose()?;
    let shard_by = parse_shard_by(py, shard_by)?;
    let job = job(
        py,
        inputs,
        threshold,
        maxval,
        luma,
        format,
        bit_depth,
        png_compression,
        max_pixels,
        follow_links,
        skip_existing,
    )?;
    let engine = match parse_engines(engine).map_err(|e| usage(py, e))?.as_slice() {
        [e] => *e,
        _ => return Err(usage(py, "give one engine: staged, rayon or serial")),
    };
    let n = positive(py, "workers", workers, MAX_WORKERS)?
        .unwrap_or_else(|| graypipe::pipeline::logical_cores().min(MAX_WORKERS));
    let mut config = EngineConfig::new(engine, n);
    if let Some(t) = positive(py, "in_flight", in_flight, MAX_IN_FLIGHT)? {
        config.in_flight = t;
    }
    // `files`: only these of the listing (a piece handed out by `graypipe.plan`), named as
    // the whole run names them. Planned without --skip-existing when sharded: every shard
    // must see the same listing.
    let mut plan_options = job.plan_options.clone();
    if shard.is_some() {
        plan_options.skip_existing = false;
    }
    let batch = py
        .detach(|| plan(&job.inputs, &output, &plan_options))
        .map_err(|e| error(py, "RefusedError", e.to_string()))?;
    let (batch, shard_info) = match shard {
        Some(shard) => {
            let (b, info) = shard_plan(
                batch,
                &output,
                shard,
                ShardSource::Flag,
                shard_by,
                skip_existing,
            );
            (b, Some(info))
        }
        None => (batch, None),
    };
    let files_given = files.is_some();
    let batch = match files {
        Some(files) => only_files(batch, &files),
        None => batch,
    };

    // The run goes on its own thread; this one waits without the GIL and, every 50 ms, takes
    // it back to let Python run its signal handlers. A KeyboardInterrupt cancels the run (no
    // new file starts; files in flight finish or are discarded, never half written) and is
    // raised by the Python side once the run has stopped.
    let cancel = CancelToken::new();
    let (summary, interrupt) = interruptible(py, "run", &cancel, || {
        graypipe::run(
            &batch,
            &job.settings,
            &config,
            &cancel,
            fail_fast,
            &mut |_, _| {},
        )
    })?;
    let mut report = RunReport::new(&summary, &job.settings, &config, job.plan_options.format);
    // The job every piece ran, for the merge's same-batch check: the same arguments give the
    // same record on every piece.
    let exact = |p: &std::path::Path| ExactPath::new(&graypipe::batch::plan::resolve(p));
    report.shard = shard_info.as_ref().map(|i| {
        ShardRecord::new(
            i,
            ShardJob {
                inputs: job.inputs.iter().map(|p| exact(p)).collect(),
                output: exact(&output),
                selection: format!(
                    "python: follow_links={follow_links} format={format} files={}",
                    files_given
                ),
            },
        )
    });
    let json = serde_json::to_string(&report)
        .map_err(|e| PyRuntimeError::new_err(format!("cannot serialise the report: {e}")))?;
    Ok((json, interrupt.map(|e| e.into_value(py).into_any())))
}

fn parse_shard_by(py: Python<'_>, by: &str) -> PyResult<ShardBy> {
    match by {
        "size" => Ok(ShardBy::Size),
        "hash" => Ok(ShardBy::Hash),
        "pixels" => Ok(ShardBy::Pixels),
        _ => Err(usage(
            py,
            format!("unknown shard_by '{by}': expected 'size', 'hash' or 'pixels'"),
        )),
    }
}

/// The plan narrowed to the jobs whose input is one of `files` (compared as given, then
/// renumbered); the rest of the listing is left alone.
fn only_files(mut batch: graypipe::batch::Plan, files: &[PathBuf]) -> graypipe::batch::Plan {
    let wanted: std::collections::HashSet<&PathBuf> = files.iter().collect();
    batch.jobs.retain(|j| wanted.contains(&j.input));
    batch.skipped.retain(|j| wanted.contains(&j.input));
    for (i, j) in batch.jobs.iter_mut().enumerate() {
        j.index = i;
    }
    batch
}

/// `graypipe.plan`: the listing a run would convert, as (input, output, bytes) in plan order,
/// and the listing errors as (path, reason).
#[pyfunction]
#[pyo3(signature = (inputs, output, follow_links, skip_existing, format))]
#[allow(clippy::type_complexity)]
fn _plan(
    py: Python<'_>,
    inputs: Vec<PathBuf>,
    output: PathBuf,
    follow_links: bool,
    skip_existing: bool,
    format: &str,
) -> PyResult<(Vec<(PathBuf, PathBuf, u64)>, Vec<(PathBuf, PathBuf)>, Vec<(PathBuf, String)>)> {
    let job = job(
        py, inputs, None, 255.0, "bt601", format, "auto", "fast", None, follow_links,
        skip_existing,
    )?;
    let batch = py
        .detach(|| plan(&job.inputs, &output, &job.plan_options))
        .map_err(|e| error(py, "RefusedError", e.to_string()))?;
    let size = |p: &PathBuf| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    Ok((
        batch
            .jobs
            .iter()
            .map(|j| (j.input.clone(), j.output.clone(), size(&j.input)))
            .collect(),
        batch
            .skipped
            .iter()
            .map(|j| (j.input.clone(), j.output.clone()))
            .collect(),
        batch
            .discovery_errors
            .iter()
            .map(|e| (e.path.clone(), e.reason.clone()))
            .collect(),
    ))
}

/// `graypipe.merge`: the shards' reports (label, JSON text) joined and checked, as
/// `graypipe merge` does; returns the merged record's JSON.
#[pyfunction]
fn _merge(py: Python<'_>, reports: Vec<(String, String)>) -> PyResult<String> {
    let mut parsed = Vec::with_capacity(reports.len());
    for (label, text) in reports {
        let r = serde_json::from_str(&text)
            .map_err(|e| usage(py, format!("{label}: not a graypipe run report: {e}")))?;
        parsed.push((label, r));
    }
    let merged = graypipe::report::merge::merge(parsed);
    serde_json::to_string(&merged)
        .map_err(|e| PyRuntimeError::new_err(format!("cannot serialise the merged record: {e}")))
}

/// Runs `work` on its own thread while this one waits without the GIL and, every 50 ms, takes
/// it back to let Python run its signal handlers. A KeyboardInterrupt cancels `cancel` (the
/// work stops cleanly) and comes back beside the result, for the caller to raise once the work
/// has stopped. `what` names the work in the error if its thread panicked.
fn interruptible<T: Send>(
    py: Python<'_>,
    what: &str,
    cancel: &CancelToken,
    work: impl FnOnce() -> T + Send,
) -> PyResult<(T, Option<PyErr>)> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let mut interrupt: Option<PyErr> = None;
    let result = std::thread::scope(|scope| {
        scope.spawn(move || {
            let _ = tx.send(work());
        });
        loop {
            match py.detach(|| rx.recv_timeout(Duration::from_millis(50))) {
                Ok(result) => return Ok(result),
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    return Err(PyRuntimeError::new_err(format!(
                        "graypipe: the {what}'s thread panicked"
                    )))
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
            }
            if interrupt.is_none() {
                if let Err(e) = py.check_signals() {
                    cancel.cancel();
                    interrupt = Some(e);
                }
            }
        }
    })?;
    Ok((result, interrupt))
}

/// `_sweep(...) -> record_json`.
#[pyfunction]
#[pyo3(signature = (inputs, workers, engines, threshold, maxval, in_flight, warmup, repeat,
    baseline, keep_output, scratch, luma, format, bit_depth, png_compression, max_pixels,
    follow_links))]
#[allow(clippy::too_many_arguments)]
fn _sweep(
    py: Python<'_>,
    inputs: Vec<PathBuf>,
    workers: Option<&str>,
    engines: &str,
    threshold: Option<&str>,
    maxval: f64,
    in_flight: Option<usize>,
    warmup: usize,
    repeat: usize,
    baseline: &str,
    keep_output: Option<PathBuf>,
    scratch: Option<PathBuf>,
    luma: &str,
    format: &str,
    bit_depth: &str,
    png_compression: &str,
    max_pixels: Option<u64>,
    follow_links: bool,
) -> PyResult<String> {
    guard(py, "sweep", || {
        sweep_checked(
            py,
            inputs,
            workers,
            engines,
            threshold,
            maxval,
            in_flight,
            warmup,
            repeat,
            baseline,
            keep_output,
            scratch,
            luma,
            format,
            bit_depth,
            png_compression,
            max_pixels,
            follow_links,
        )
    })
}

#[allow(clippy::too_many_arguments)]
fn sweep_checked(
    py: Python<'_>,
    inputs: Vec<PathBuf>,
    workers: Option<&str>,
    engines: &str,
    threshold: Option<&str>,
    maxval: f64,
    in_flight: Option<usize>,
    warmup: usize,
    repeat: usize,
    baseline: &str,
    keep_output: Option<PathBuf>,
    scratch: Option<PathBuf>,
    luma: &str,
    format: &str,
    bit_depth: &str,
    png_compression: &str,
    max_pixels: Option<u64>,
    follow_links: bool,
) -> PyResult<String> {
    let job = job(
        py,
        inputs,
        threshold,
        maxval,
        luma,
        format,
        bit_depth,
        png_compression,
        max_pixels,
        follow_links,
        false,
    )?;
    let baseline: Baseline = value_enum(py, "baseline", baseline)?;
    let repeat = count(py, "repeat", repeat, false, MAX_RUNS)?;
    let warmup = count(py, "warmup", warmup, true, MAX_RUNS)?;
    let sweep_plan = SweepPlan {
        inputs: job.inputs,
        plan_options: job.plan_options,
        settings: job.settings,
        engines: parse_engines(engines).map_err(|e| usage(py, e))?,
        // None: 1, 2, ... up to the logical cores, as the CLI's default.
        workers: match workers {
            Some(w) => Some(parse_worker_list(w).map_err(|e| usage(py, e))?),
            None => None,
        },
        cores: None,
        overrides: StageOverrides::default(),
        in_flight: positive(py, "in_flight", in_flight, MAX_IN_FLIGHT)?,
        max_memory: graypipe::pipeline::memory::default_budget(),
        warmup,
        // `repeat` counted runs per point, no minimum time: what a notebook user asked for.
        min_runs: repeat,
        min_time: 0.0,
        max_runs: repeat,
        quiet_machine: false,
        baseline,
        keep_output,
        scratch,
        timelines: false,
    };
    // As in `_run`: the sweep goes on its own thread while this one checks for Ctrl-C every
    // 50 ms. A KeyboardInterrupt cancels the run in progress; the sweep then removes its
    // temporary folders and returns `Interrupted`, and the KeyboardInterrupt is raised.
    let cancel = CancelToken::new();
    let (result, interrupt) = interruptible(py, "sweep", &cancel, || {
        run_sweep(&sweep_plan, &cancel, &mut |_| {})
    })?;
    if let Some(e) = interrupt {
        // Whether the sweep was cut short or had just finished, Ctrl-C wins: no record.
        return Err(e);
    }
    let record = result.map_err(|e| error(py, "RefusedError", e.to_string()))?;
    serde_json::to_string(&record)
        .map_err(|e| PyRuntimeError::new_err(format!("cannot serialise the sweep record: {e}")))
}

/// The native module.
#[pymodule]
fn _graypipe(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gray, m)?)?;
    m.add_function(wrap_pyfunction!(threshold, m)?)?;
    m.add_function(wrap_pyfunction!(imread, m)?)?;
    m.add_function(wrap_pyfunction!(_run, m)?)?;
    m.add_function(wrap_pyfunction!(_sweep, m)?)?;
    m.add_function(wrap_pyfunction!(_plan, m)?)?;
    m.add_function(wrap_pyfunction!(_merge, m)?)?;
    m.add(
        "__version__",
        PyString::new(m.py(), env!("CARGO_PKG_VERSION")),
    )?;
    Ok(())
}
