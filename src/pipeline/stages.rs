//! The five stages as plain functions over one file, shared by every engine.

use std::path::Path;
use std::time::{Duration, Instant};

use super::stats::thread_cpu_time;

use crate::codec::{self, DecodeLimits, DecodedImage, OutputFormat, PngCompression};
use crate::error::{io_reason, FileError, Stage};
use crate::ops::{self, Luma, Operation};

/// What is computed for every file (as opposed to how the work is scheduled).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Threshold or gray only.
    pub operation: Operation,
    /// Luma weights.
    pub luma: Luma,
    /// Store two-valued PNG results in one bit per pixel.
    pub one_bit_png: bool,
    /// PNG deflate effort.
    pub png_compression: PngCompression,
    /// Decoder limits.
    pub limits: DecodeLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            operation: Operation::Gray,
            luma: Luma::Bt601,
            one_bit_png: true,
            png_compression: PngCompression::Fast,
            limits: DecodeLimits::default(),
        }
    }
}

/// A file that was written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Written {
    /// Bytes in the output file.
    pub bytes: u64,
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// The level an Otsu or Triangle threshold chose (or the fixed one).
    pub level: Option<f64>,
}

/// A processed gray image ready to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct GrayResult {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Samples.
    pub data: Vec<u8>,
    /// The threshold level used, if any.
    pub level: Option<f64>,
}

/// Working memory one worker reuses from file to file.
#[derive(Debug, Default)]
pub struct Scratch {
    adaptive: Vec<u8>,
}

/// Stage 1: the file's bytes. Files larger than any image within the decode limit could be
/// are refused without reading them.
pub fn read(path: &Path, limits: &DecodeLimits) -> Result<Vec<u8>, String> {
    let max_bytes = limits.max_pixels.saturating_mul(8).saturating_add(16 << 20);
    let mut file = std::fs::File::open(path).map_err(|e| io_reason(&e))?;
    let meta = file.metadata().map_err(|e| io_reason(&e))?;
    if meta.is_dir() {
        return Err("is a folder, not a file".into());
    }
    if meta.len() > max_bytes {
        return Err(format!(
            "file is {} bytes, more than any image within the decode limit (--max-pixels) can take",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| io_reason(&e))?;
    Ok(bytes)
}

/// Stage 2: pixels.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<DecodedImage, String> {
    codec::decode(bytes, limits).map_err(|e| e.to_string())
}

/// Stage 3: gray conversion and the operation.
pub fn process(img: &DecodedImage, settings: &Settings, scratch: &mut Scratch) -> GrayResult {
    let mut gray = Vec::new();
    ops::to_gray(&img.data, img.layout, settings.luma, &mut gray);
    let done = ops::apply(
        &settings.operation,
        img.width as usize,
        img.height as usize,
        &mut gray,
        &mut scratch.adaptive,
    );
    GrayResult {
        width: img.width,
        height: img.height,
        data: gray,
        level: done.level,
    }
}

/// Stage 4: the output file's bytes.
pub fn encode(
    gray: &GrayResult,
    format: OutputFormat,
    settings: &Settings,
) -> Result<Vec<u8>, String> {
    let one_bit =
        format == OutputFormat::Png && settings.one_bit_png && settings.operation.is_two_valued();
    let mut out = Vec::new();
    codec::encode(
        &gray.data,
        gray.width,
        gray.height,
        format,
        one_bit,
        settings.png_compression,
        &mut out,
    )
    .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Stage 5: writes `bytes` to `path` atomically (see [`crate::atomic_write`]): no reader ever
/// sees a partial file under the output name.
pub fn write(path: &Path, bytes: &[u8]) -> Result<u64, String> {
    crate::atomic_write::write_atomic(path, bytes)
}

/// Busy time and byte counts of one file through the stages it reached.
#[derive(Debug, Default, Clone)]
pub struct Trace {
    /// Time in each stage.
    pub busy: [Duration; 5],
    /// Thread CPU time in each stage (zero where the platform does not measure it).
    pub cpu: [Duration; 5],
    /// Bytes handed to each stage.
    pub bytes_in: [u64; 5],
    /// Bytes produced by each stage.
    pub bytes_out: [u64; 5],
    /// The stage that failed, if one did.
    pub failed_at: Option<Stage>,
}

/// Carries one file through all five stages on the current thread, timing each.
pub fn carry(
    input: &Path,
    output: &Path,
    format: OutputFormat,
    settings: &Settings,
    scratch: &mut Scratch,
    trace: &mut Trace,
) -> Result<Written, FileError> {
    let fail = |stage: Stage, reason: String| FileError {
        input: input.to_path_buf(),
        stage: Some(stage),
        reason,
    };
    let result = carry_stages(input, output, format, settings, scratch, trace, &fail);
    if let Err(e) = &result {
        trace.failed_at = e.stage;
    }
    result
}

fn carry_stages(
    input: &Path,
    output: &Path,
    format: OutputFormat,
    settings: &Settings,
    scratch: &mut Scratch,
    trace: &mut Trace,
    fail: &dyn Fn(Stage, String) -> FileError,
) -> Result<Written, FileError> {
    let t = StageClock::start();
    let bytes = read(input, &settings.limits);
    record(
        trace,
        Stage::Read,
        t,
        0,
        bytes.as_ref().map_or(0, |b| b.len() as u64),
    );
    let bytes = bytes.map_err(|r| fail(Stage::Read, r))?;

    let t = StageClock::start();
    let img = decode(&bytes, &settings.limits);
    record(
        trace,
        Stage::Decode,
        t,
        bytes.len() as u64,
        img.as_ref().map_or(0, |i| i.data.len() as u64),
    );
    let img = img.map_err(|r| fail(Stage::Decode, r))?;
    drop(bytes);

    let t = StageClock::start();
    let gray = process(&img, settings, scratch);
    record(
        trace,
        Stage::Process,
        t,
        img.data.len() as u64,
        gray.data.len() as u64,
    );
    drop(img);

    let t = StageClock::start();
    let encoded = encode(&gray, format, settings);
    record(
        trace,
        Stage::Encode,
        t,
        gray.data.len() as u64,
        encoded.as_ref().map_or(0, |e| e.len() as u64),
    );
    let encoded = encoded.map_err(|r| fail(Stage::Encode, r))?;

    let t = StageClock::start();
    let written = write(output, &encoded);
    record(
        trace,
        Stage::Write,
        t,
        encoded.len() as u64,
        *written.as_ref().unwrap_or(&0),
    );
    let bytes = written.map_err(|r| fail(Stage::Write, r))?;
    Ok(Written {
        bytes,
        width: gray.width,
        height: gray.height,
        level: gray.level,
    })
}

/// Wall and thread CPU time at the start of a stage.
struct StageClock {
    wall: Instant,
    cpu: Option<Duration>,
}

impl StageClock {
    fn start() -> Self {
        Self {
            cpu: thread_cpu_time(),
            wall: Instant::now(),
        }
    }
}

fn record(trace: &mut Trace, stage: Stage, start: StageClock, bytes_in: u64, bytes_out: u64) {
    let i = stage.index();
    trace.busy[i] += start.wall.elapsed();
    if let (Some(before), Some(now)) = (start.cpu, thread_cpu_time()) {
        trace.cpu[i] += now.saturating_sub(before);
    }
    trace.bytes_in[i] += bytes_in;
    trace.bytes_out[i] += bytes_out;
}

/// Converts one file: the library's plain entry point (`graypipe::convert_file`).
pub fn convert_file(
    input: &Path,
    output: &Path,
    format: OutputFormat,
    settings: &Settings,
) -> Result<Written, FileError> {
    let mut trace = Trace::default();
    carry(
        input,
        output,
        format,
        settings,
        &mut Scratch::default(),
        &mut trace,
    )
}
