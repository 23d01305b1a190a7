//! The five stages as plain functions over one file, shared by every engine.

use std::path::Path;
use std::time::{Duration, Instant};

use super::bands::Bands;
use super::cpu_time::thread_cpu;
use super::failure::Failure;
use super::memory::MemoryBudget;
use super::stats::StageStats;
use super::{PerStage, Stage};
use crate::batch::Job;
use crate::codec::{self, DecodeLimits, DecodedImage, OutputFormat, PngCompression, ReadMode};
use crate::error::FileError;
use crate::ops::{self, Luma, Operation};
use crate::trace::MarkKind;

/// What is computed for every file (as opposed to how the work is scheduled).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Threshold or gray only.
    pub operation: Operation,
    /// Luma weights.
    pub luma: Luma,
    /// Allow two-valued PNG results in one bit per pixel (`--bit-depth auto`); the decision
    /// itself is `codec::one_bit_png`'s.
    pub one_bit_png: bool,
    /// PNG deflate effort.
    pub png_compression: PngCompression,
    /// Decoder limits.
    pub limits: DecodeLimits,
    /// `--read`: colour then gray (`cv2.imread` + `cvtColor`) or the decoder's gray.
    pub read: ReadMode,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            operation: Operation::Gray,
            luma: Luma::Bt601,
            one_bit_png: true,
            png_compression: PngCompression::Fast,
            limits: DecodeLimits::default(),
            read: ReadMode::Color,
        }
    }
}

/// A file that was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    /// Bytes in the output file.
    pub bytes: u64,
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// The level an Otsu or Triangle threshold chose (or the fixed one).
    pub level: Option<f64>,
    /// The decoder's warnings (the file was read, but is probably damaged).
    pub warnings: Vec<String>,
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

/// Stage 1: the file's bytes, through [`crate::input::read_input`]: regular files only, never a
/// hang on a FIFO, and never more bytes than any image within the decode limit could take.
pub fn read(path: &Path, limits: &DecodeLimits) -> Result<Vec<u8>, Failure> {
    read_within(path, limits, u64::MAX)
}

/// [`read`], also refusing a file whose bytes alone are more than the memory budget (it could
/// never be admitted to decoding; reading it would already take the memory the budget keeps).
pub fn read_within(
    path: &Path,
    limits: &DecodeLimits,
    max_memory: u64,
) -> Result<Vec<u8>, Failure> {
    read_admitted(path, limits, max_memory, &mut |_| true)?.ok_or_else(|| {
        Failure::Other("internal error: a read was refused admission; please report it".into())
    })
}

/// [`read_within`], asking `admit` for the file's size before reading it (the memory budget
/// counts a file's bytes from the start of its read): `Ok(None)` when it says no.
fn read_admitted(
    path: &Path,
    limits: &DecodeLimits,
    max_memory: u64,
    admit: &mut dyn FnMut(u64) -> bool,
) -> Result<Option<Vec<u8>>, Failure> {
    let by_pixels = limits.max_pixels.saturating_mul(8).saturating_add(16 << 20);
    let cap = by_pixels.min(max_memory);
    #[cfg(feature = "object-store")]
    if crate::storage::is_remote(path.as_os_str()) {
        use crate::storage::RemoteReadError;
        return crate::storage::read(path.as_os_str(), cap, admit).map_err(|e| match e {
            RemoteReadError::TooLarge { size } if cap < by_pixels => {
                Failure::OverBudget { size, budget: cap }
            }
            RemoteReadError::TooLarge { size } => {
                Failure::Read(crate::input::ReadError::TooLarge { size, limit: cap })
            }
            RemoteReadError::Failed(reason) => Failure::Remote(reason),
        });
    }
    crate::input::read_input_admitted(path, cap, admit).map_err(|e| match e {
        crate::input::ReadError::TooLarge { size, .. } if cap < by_pixels => {
            Failure::OverBudget { size, budget: cap }
        }
        crate::input::ReadError::GrewPastLimit { .. } if cap < by_pixels => {
            Failure::GrewPastBudget { budget: cap }
        }
        other => Failure::Read(other),
    })
}

/// Stage 2: pixels, read as `settings.read` says.
pub fn decode(bytes: &[u8], settings: &Settings) -> Result<DecodedImage, Failure> {
    Ok(codec::decode_as(bytes, &settings.limits, settings.read)?)
}

/// Stage 3: gray conversion and the operation. A gray picture's own buffer becomes the result
/// (no copy: `--read gray` and gray files); any other gray buffer is asked for fallibly, so an
/// address-space limit (`ulimit -v`) fails this file, not the process.
pub fn process(
    img: DecodedImage,
    settings: &Settings,
    scratch: &mut Scratch,
) -> Result<GrayResult, Failure> {
    process_with(img, settings, scratch, &Bands::serial())
}

/// [`process`], a big picture's bands computed by `bands` (same pixels and level).
pub fn process_with(
    img: DecodedImage,
    settings: &Settings,
    scratch: &mut Scratch,
    bands: &Bands,
) -> Result<GrayResult, Failure> {
    if bands.splits(u64::from(img.width) * u64::from(img.height)) {
        return process_bands(img, settings, scratch, bands);
    }
    let pixels = img.width as usize * img.height as usize;
    let mut gray = if img.layout == ops::ChannelLayout::Gray && img.data.len() == pixels {
        img.data
    } else {
        let mut gray = Vec::new();
        ops::try_to_gray(&img.data, img.layout, settings.luma, &mut gray).map_err(|_| {
            Failure::Other(format!(
                "not enough memory for the gray picture ({pixels} bytes; a memory limit such as ulimit -v?)"
            ))
        })?;
        gray
    };
    let done = ops::apply(
        &settings.operation,
        img.width as usize,
        img.height as usize,
        &mut gray,
        &mut scratch.adaptive,
    )?;
    Ok(GrayResult {
        width: img.width,
        height: img.height,
        data: gray,
        level: done.level,
    })
}

/// Rows per band of the gray conversion and the thresholds: about a megapixel, and for an
/// adaptive threshold at least eight times its window (each band also reads `block / 2` rows
/// above and below it). From the picture and the operation only, never the workers.
fn process_band_rows(width: usize, op: &Operation) -> usize {
    let rows = ((1 << 20) / width.max(1)).max(1);
    match *op {
        Operation::Adaptive { block, .. } => rows.max(8 * block),
        _ => rows,
    }
}

/// [`process`] of a big picture, band by band on `bands`.
fn process_bands(
    img: DecodedImage,
    settings: &Settings,
    scratch: &mut Scratch,
    bands: &Bands,
) -> Result<GrayResult, Failure> {
    let (w, h) = (img.width as usize, img.height as usize);
    let pixels = w * h;
    let band_rows = process_band_rows(w, &settings.operation);
    let band = band_rows * w;
    let out_of_memory = |what: &str| {
        Failure::Other(format!(
            "not enough memory for the {what} ({pixels} bytes; a memory limit such as ulimit -v?)"
        ))
    };
    let mut gray = if img.layout == ops::ChannelLayout::Gray && img.data.len() == pixels {
        img.data
    } else {
        let mut gray = Vec::new();
        gray.try_reserve_exact(pixels)
            .map_err(|_| out_of_memory("gray picture"))?;
        gray.resize(pixels, 0);
        let channels = img.layout.channels();
        let (layout, luma) = (img.layout, settings.luma);
        let work: Vec<_> = gray
            .chunks_mut(band)
            .zip(img.data.chunks(band * channels))
            .collect();
        bands.map(work, |(out, src)| ops::to_gray_into(src, layout, luma, out));
        drop(img.data);
        gray
    };
    let level = match settings.operation {
        Operation::Gray => None,
        Operation::Threshold {
            kind,
            level,
            maxval,
        } => {
            let t = match level {
                ops::Level::Fixed(t) => t,
                ops::Level::Otsu | ops::Level::Triangle => {
                    let parts = bands.map(gray.chunks(band).collect(), ops::histogram);
                    let mut hist = [0u64; 256];
                    for part in &parts {
                        for (sum, n) in hist.iter_mut().zip(part) {
                            *sum += n;
                        }
                    }
                    if level == ops::Level::Otsu {
                        f64::from(ops::otsu_threshold(&hist))
                    } else {
                        f64::from(ops::triangle_threshold(&hist))
                    }
                }
            };
            bands.map(gray.chunks_mut(band).collect(), |part| {
                ops::threshold_in_place(part, t, maxval, kind)
            });
            Some(t)
        }
        Operation::Adaptive {
            method,
            inverse,
            block,
            c,
            maxval,
        } => {
            let out = &mut scratch.adaptive;
            out.clear();
            out.try_reserve_exact(pixels)
                .map_err(|_| out_of_memory("thresholded picture"))?;
            out.resize(pixels, 0);
            let view = ops::GrayView::new(w, h, &gray).ok_or_else(|| {
                Failure::Other(format!(
                    "{} gray samples for a {w} x {h} picture",
                    gray.len()
                ))
            })?;
            let work: Vec<_> = out.chunks_mut(band).enumerate().collect();
            bands.map(work, |(i, part)| {
                let top = i * band_rows;
                ops::adaptive_threshold_rows(
                    view,
                    top..top + part.len() / w,
                    maxval,
                    method,
                    inverse,
                    block,
                    c,
                    part,
                )
            });
            std::mem::swap(&mut gray, out);
            None
        }
    };
    Ok(GrayResult {
        width: w as u32,
        height: h as u32,
        data: gray,
        level,
    })
}

/// Stage 4: the output file's bytes.
pub fn encode(
    gray: &GrayResult,
    format: OutputFormat,
    settings: &Settings,
) -> Result<Vec<u8>, Failure> {
    encode_with(gray, format, settings, &Bands::serial())
}

/// [`encode`], a big PNG's bands compressed by `bands`. Whether a PNG is written in bands is
/// the codec's rule ([`codec::png_bands::banded`]), from the picture alone: the same bytes
/// whoever computes them.
pub fn encode_with(
    gray: &GrayResult,
    format: OutputFormat,
    settings: &Settings,
    bands: &Bands,
) -> Result<Vec<u8>, Failure> {
    let one_bit = codec::one_bit_png(
        format,
        settings.one_bit_png,
        settings.operation.is_two_valued(),
    );
    let (w, h) = (gray.width, gray.height);
    if codec::png_bands::banded(format, settings.png_compression, w, h)
        && gray.data.len() as u64 == u64::from(w) * u64::from(h)
    {
        let rows = codec::png_bands::band_rows(w, one_bit);
        let width = w as usize;
        let work: Vec<_> = gray.data.chunks(rows * width).enumerate().collect();
        let data = &gray.data;
        let encoded = bands.map(work, |(i, part)| {
            let above = (i > 0).then(|| &data[i * rows * width - width..i * rows * width]);
            codec::png_bands::encode_band(part, above, w, one_bit, i == 0)
        });
        let mut out = Vec::new();
        codec::png_bands::assemble(w, h, one_bit, encoded, &mut out);
        return Ok(out);
    }
    let mut out = Vec::new();
    codec::encode(
        &gray.data,
        gray.width,
        gray.height,
        format,
        one_bit,
        settings.png_compression,
        &mut out,
    )?;
    Ok(out)
}

/// Stage 5: writes `bytes` to `path` atomically (see [`crate::atomic_write`]): no reader ever
/// sees a partial file under the output name.
/// `existing`: whether an output stood there when the plan was made, if known.
/// `input_folders`: folders the output must never go into.
pub fn write(
    path: &Path,
    bytes: &[u8],
    existing: Option<bool>,
    input_folders: &crate::atomic_write::ProtectedFolders,
) -> Result<u64, Failure> {
    // An object is whole or absent: one PUT of the whole output.
    #[cfg(feature = "object-store")]
    if crate::storage::is_remote(path.as_os_str()) {
        return crate::storage::write(path.as_os_str(), bytes).map_err(Failure::Remote);
    }
    Ok(crate::atomic_write::write_atomic_known(
        path,
        bytes,
        existing,
        input_folders,
    )?)
}

/// A file between two stages: what the last stage produced.
#[derive(Debug, Default)]
pub(super) enum Payload {
    /// Not read yet.
    #[default]
    Start,
    /// The file's bytes.
    Bytes(Vec<u8>),
    /// Decoded pixels.
    Decoded(DecodedImage),
    /// The gray result.
    Gray(GrayResult),
    /// The output file's bytes.
    Encoded(Vec<u8>),
    /// Written: the output's size.
    Written(u64),
}

impl Payload {
    /// Bytes held, for the per-stage byte counters.
    fn byte_len(&self) -> u64 {
        match self {
            Payload::Start => 0,
            Payload::Bytes(b) | Payload::Encoded(b) => b.len() as u64,
            Payload::Decoded(d) => d.data.len() as u64,
            Payload::Gray(g) => g.data.len() as u64,
            Payload::Written(n) => *n,
        }
    }
}

/// One file on its way through the stages (a token of the pipeline).
#[derive(Debug)]
pub(super) struct Token {
    /// Position of the job in the slice the engine was given.
    pub pos: usize,
    /// The stage this token is ready for.
    pub next: Stage,
    /// What the previous stage produced.
    pub payload: Payload,
    /// When it became ready for `next` (for the time it waits in front of a stage).
    pub ready_since: std::time::Instant,
    /// What the stages learnt about the file so far.
    pub facts: Facts,
    /// Working-set bytes charged to the memory budget while it is being decoded and after.
    pub admitted: u64,
}

impl Token {
    /// A token for job `pos`, ready to be read.
    pub fn new(pos: usize) -> Self {
        Self {
            pos,
            next: Stage::Read,
            payload: Payload::Start,
            ready_since: Instant::now(),
            facts: Facts::default(),
            admitted: 0,
        }
    }
}

/// What one worker owns: its scratch memory, its per-stage figures and its clock readings.
pub(super) struct StageRunner<'a> {
    settings: &'a Settings,
    /// The run's memory budget: no file larger than it is read.
    max_memory: u64,
    scratch: Scratch,
    /// Who computes a big picture's bands.
    bands: Bands,
    /// Per-stage figures of this worker.
    pub stats: PerStage<StageStats>,
    /// The wall and CPU clocks at the end of the last task, reused as the start of the next
    /// task when the worker carries the same file straight on (one clock read instead of two).
    last_end: Option<(Instant, Duration)>,
    /// Where this worker's slices go when the run is traced.
    trace: Option<crate::trace::Recorder<'a>>,
}

/// Dimensions, level and decoder warnings of a file, kept from the stage that learnt them to
/// the outcome.
#[derive(Debug, Default, Clone)]
pub(super) struct Facts {
    width: u32,
    height: u32,
    level: Option<f64>,
    warnings: Vec<String>,
    /// Bytes the file's header says decoding it will take at most (learnt when it is read).
    pub need: u64,
    /// The file's size when it was opened: what its read asks the budget for (and, if
    /// refused, waits for).
    pub size: u64,
}

impl<'a> StageRunner<'a> {
    /// A runner with fresh scratch memory, for a run with `max_memory` bytes of budget.
    pub fn new(settings: &'a Settings, max_memory: u64) -> Self {
        Self {
            settings,
            max_memory,
            scratch: Scratch::default(),
            bands: Bands::serial(),
            stats: Default::default(),
            last_end: None,
            trace: None,
        }
    }

    /// The same runner, a big picture's bands computed by `bands`.
    pub fn with_bands(mut self, bands: Bands) -> Self {
        self.bands = bands;
        self
    }

    /// This runner, recording its slices into `trace` (when the run is traced).
    pub fn traced(mut self, trace: Option<crate::trace::Recorder<'a>>) -> Self {
        self.trace = trace;
        self
    }

    /// Runs the stage `tok` is ready for and moves it on to the next one. `carried` says the
    /// worker ran this token's previous stage just before (so its clocks can be reused).
    /// A panic inside the stage fails the file, never the run.
    ///
    /// A read first asks `admit` for the file's size; when it says no, nothing is read and the
    /// token stays ready for `Read` (its `facts.size` says how much it waits for).
    pub fn run(
        &mut self,
        tok: &mut Token,
        job: &Job,
        carried: bool,
        admit: &mut dyn FnMut(u64) -> bool,
    ) -> Result<(), FileError> {
        let stage = tok.next;
        let (t0, c0) = match self.last_end.filter(|_| carried) {
            Some(clocks) => clocks,
            None => (Instant::now(), thread_cpu()),
        };
        let st = &mut self.stats[stage];
        st.wait += t0.saturating_duration_since(tok.ready_since);
        st.bytes_in += tok.payload.byte_len();
        let input = std::mem::take(&mut tok.payload);
        let settings = self.settings;
        let max_memory = self.max_memory;
        let scratch = &mut self.scratch;
        let bands = &self.bands;
        let facts = &mut tok.facts;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_stage(
                stage, input, job, settings, max_memory, scratch, bands, facts, admit,
            )
        }))
        .unwrap_or_else(|panic| Err(Failure::Other(panic_reason(panic.as_ref()))));
        let (t1, c1) = (Instant::now(), thread_cpu());
        self.last_end = Some((t1, c1));
        let st = &mut self.stats[stage];
        st.busy += t1.saturating_duration_since(t0);
        st.cpu += c1.saturating_sub(c0);
        // A read not admitted did nothing: no slice.
        let waited = stage == Stage::Read && matches!(result, Ok(Payload::Start));
        if let Some(r) = self.trace.as_mut().filter(|_| !waited) {
            r.slice(stage, tok.pos, t0, t1, tok.facts.size);
        }
        match result {
            // A read that was not admitted: nothing was read, the token waits for budget.
            // Its wait starts again from now (the wait so far was counted above).
            Ok(Payload::Start) if stage == Stage::Read => {
                tok.ready_since = t1;
                Ok(())
            }
            Ok(out) => {
                st.items += 1;
                st.bytes_out += out.byte_len();
                tok.payload = out;
                tok.ready_since = t1;
                if let Some(next) = Stage::ALL.get(stage.index() + 1) {
                    tok.next = *next;
                }
                Ok(())
            }
            Err(failure) => {
                st.failed += 1;
                let reason = failure.to_string();
                if let Some(r) = &mut self.trace {
                    r.mark(MarkKind::Failure, tok.pos, stage, t1, &reason);
                }
                Err(FileError {
                    input: job.input.clone(),
                    stage: Some(stage),
                    reason,
                })
            }
        }
    }

    /// Carries one file through every stage on this thread (the rayon engine's task and
    /// [`convert_file`]). With a `budget`, decoding starts only once the file's working set
    /// is admitted; it is given back when the file is done.
    pub fn carry(
        &mut self,
        pos: usize,
        job: &Job,
        budget: Option<&MemoryBudget>,
    ) -> Result<Written, FileError> {
        let mut tok = Token::new(pos);
        let Some(b) = budget else {
            loop {
                let stage = tok.next;
                self.run(&mut tok, job, stage != Stage::Read, &mut |_| true)?;
                if stage == Stage::Write {
                    return Ok(tok.written());
                }
            }
        };
        // The file's bytes count from the start of its read (waiting here holds nothing).
        let mut read = None;
        self.run(&mut tok, job, false, &mut |size| {
            read = b.admit(size).ok();
            read.is_some()
        })?;
        if tok.next == Stage::Read {
            // Only an admission error refuses a read here, and a read never asks for more
            // than the budget: not reached, but never a silent success.
            return Err(self.refuse(pos, job, "internal error: a read was not admitted".into()));
        }
        let need = tok.facts.need;
        if need > b.total() {
            return Err(self.refuse(pos, job, super::memory::over_budget(need, b.total())));
        }
        // Then its whole working set. When that does not fit now, the bytes are let go while
        // it waits (a waiting file holds no budget, so waiting files can never block each
        // other) and read again once admitted.
        let extra = need.saturating_sub(tok.facts.size);
        let _admitted = match b.try_admit(extra) {
            Some(more) => (read, Some(more)),
            None => {
                drop(read);
                tok.payload = Payload::Start;
                let all = b
                    .admit(need)
                    .map_err(|reason| self.refuse(pos, job, reason))?;
                (Some(all), None)
            }
        };
        loop {
            let stage = tok.next;
            self.run(&mut tok, job, true, &mut |_| true)?;
            if stage == Stage::Write {
                return Ok(tok.written());
            }
        }
    }

    /// Fails file `pos` at admission to decoding (its working set is over the memory budget).
    pub fn refuse(&mut self, pos: usize, job: &Job, reason: String) -> FileError {
        self.stats[Stage::Decode].failed += 1;
        if let Some(r) = &mut self.trace {
            r.mark(
                MarkKind::Refusal,
                pos,
                Stage::Decode,
                Instant::now(),
                &reason,
            );
        }
        FileError {
            input: job.input.clone(),
            stage: Some(Stage::Decode),
            reason,
        }
    }
}

impl Token {
    /// The record of a file whose write stage has finished (its warnings move into it).
    pub fn written(&mut self) -> Written {
        Written {
            bytes: match self.payload {
                Payload::Written(n) => n,
                _ => 0,
            },
            width: self.facts.width,
            height: self.facts.height,
            level: self.facts.level,
            warnings: std::mem::take(&mut self.facts.warnings),
        }
    }
}

/// The memory converting a file will take at most, from its header. A file whose header cannot
/// be read, or that is over the pixel limit, counts only its own size: its decode fails at once,
/// with that reason rather than the budget's.
fn working_set(bytes: &[u8], settings: &Settings, bands: &Bands) -> u64 {
    match codec::probe(bytes) {
        Ok(info) if info.pixels() <= settings.limits.max_pixels => {
            if decodes_to_gray(bytes, info.pixels(), settings) {
                let (w, h) = (u64::from(info.width), u64::from(info.height));
                info.working_set_gray_bytes(process_extra(w, h, &settings.operation, bands))
            } else {
                info.working_set_bytes()
            }
        }
        _ => bytes.len() as u64,
    }
}

/// Whether the decode stage reads this file straight to gray: big pictures read in colour whose
/// decoder can convert rows as it goes (smaller ones keep the decoders' whole-picture path).
fn decodes_to_gray(bytes: &[u8], pixels: u64, settings: &Settings) -> bool {
    settings.read == ReadMode::Color
        && pixels >= super::bands::BIG_PICTURE_PIXELS
        && codec::decodes_to_gray(bytes)
}

/// The operation's working memory besides the gray picture and the result, at most: an
/// adaptive Gaussian keeps `block` rows of f64 per band being computed (the bands computed at
/// once: at most the band threads); the others a few rows.
fn process_extra(w: u64, h: u64, op: &Operation, bands: &Bands) -> u64 {
    let rows_bytes = |rows: u64| rows.saturating_mul(w).saturating_mul(8);
    match *op {
        Operation::Adaptive { block, .. } => {
            let block = (block as u64).min(h);
            let band = process_band_rows(w as usize, op) as u64;
            let at_once = h.div_ceil(band.max(1)).min(bands.threads() as u64).max(1);
            at_once.saturating_mul(rows_bytes(block + 4))
        }
        _ => rows_bytes(4),
    }
}

/// The words for a panic that was caught in a stage.
fn panic_reason(panic: &(dyn std::any::Any + Send)) -> String {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    format!("internal error: graypipe panicked on this file ({msg}); please report it")
}

/// One stage's work on one file.
#[allow(clippy::too_many_arguments)] // the whole context of one task; a struct would only rename it
fn run_stage(
    stage: Stage,
    input: Payload,
    job: &Job,
    settings: &Settings,
    max_memory: u64,
    scratch: &mut Scratch,
    bands: &Bands,
    facts: &mut Facts,
    admit: &mut dyn FnMut(u64) -> bool,
) -> Result<Payload, Failure> {
    #[cfg(test)]
    if job.input.to_string_lossy().contains("graypipe-test-panic") && stage == Stage::Decode {
        panic!("a test asked for a panic");
    }
    match (stage, input) {
        (Stage::Read, _) => {
            let read = read_admitted(&job.input, &settings.limits, max_memory, &mut |size| {
                facts.size = size;
                admit(size)
            })?;
            let Some(bytes) = read else {
                return Ok(Payload::Start);
            };
            facts.need = working_set(&bytes, settings, bands);
            Ok(Payload::Bytes(bytes))
        }
        (Stage::Decode, input @ (Payload::Bytes(_) | Payload::Start)) => {
            let bytes = match input {
                Payload::Bytes(bytes) => bytes,
                // Its bytes were let go while it waited for memory: read them again, within
                // what was admitted for it.
                _ => {
                    // At most what it was admitted with: a file that grew meanwhile is
                    // refused without taking more than that.
                    let bytes =
                        read_within(&job.input, &settings.limits, facts.need.min(max_memory))?;
                    if working_set(&bytes, settings, bands) > facts.need {
                        return Err(Failure::Other("the file changed while it waited for memory (it now needs more than it was admitted with)".into()));
                    }
                    bytes
                }
            };
            let pixels = codec::probe(&bytes).map_or(0, |info| info.pixels());
            let mut img = if decodes_to_gray(&bytes, pixels, settings) {
                codec::decode_color_to_gray(&bytes, &settings.limits, settings.luma)?
            } else {
                decode(&bytes, settings)?
            };
            drop(bytes);
            facts.width = img.width;
            facts.height = img.height;
            facts.warnings = std::mem::take(&mut img.warnings);
            Ok(Payload::Decoded(img))
        }
        (Stage::Process, Payload::Decoded(img)) => {
            let gray = process_with(img, settings, scratch, bands)?;
            facts.level = gray.level;
            Ok(Payload::Gray(gray))
        }
        (Stage::Encode, Payload::Gray(gray)) => {
            encode_with(&gray, job.format, settings, bands).map(Payload::Encoded)
        }
        (Stage::Write, Payload::Encoded(bytes)) => {
            write(&job.output, &bytes, job.existing_output, &job.input_folders)
                .map(Payload::Written)
        }
        (stage, _) => Err(Failure::Other(format!(
            "internal error: stage {} was handed the wrong data; please report it",
            stage.name()
        ))),
    }
}

/// Converts one file: the library's plain entry point (`graypipe::convert_file`).
pub fn convert_file(
    input: &Path,
    output: &Path,
    format: OutputFormat,
    settings: &Settings,
) -> Result<Written, FileError> {
    let job = Job {
        index: 0,
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        format,
        existing_output: None,
        input_folders: Default::default(),
    };
    StageRunner::new(settings, u64::MAX).carry(0, &job, None)
}
