//! One big picture split over the workers: its gray conversion, its threshold and its PNG encode
//! run on bands of rows at once, so that a folder with fewer pictures than workers still uses
//! every worker.
//!
//! Where a picture is cut never depends on how many workers there are (the kernels' band
//! sizes follow the picture and the operation only), so the bytes written are the same for
//! every engine and worker count; the workers only decide who computes which band.
//!
//! The bands run on a pool of as many threads as the run has workers, started the first time a
//! big picture comes (a run of small pictures starts none). A worker hands its picture's bands
//! to the pool and waits; meanwhile the other workers go on with their own files.

use std::sync::{Arc, OnceLock};

use rayon::prelude::*;

/// Pictures from this many pixels on are split into bands (smaller ones keep the one-worker
/// path, where a split costs more than it gives).
pub const BIG_PICTURE_PIXELS: u64 = 4 << 20;

/// Who computes the bands of a big picture: the calling worker alone, or a shared pool.
#[derive(Clone)]
pub struct Bands {
    threads: usize,
    pool: Arc<OnceLock<Option<rayon::ThreadPool>>>,
}

impl std::fmt::Debug for Bands {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bands")
            .field("threads", &self.threads)
            .finish()
    }
}

impl Bands {
    /// Bands computed one after the other by the worker that has the picture.
    pub fn serial() -> Self {
        Self::new(1)
    }

    /// Bands computed by a pool of `threads` threads (started when first needed).
    pub fn new(threads: usize) -> Self {
        Self {
            threads: threads.max(1),
            pool: Arc::new(OnceLock::new()),
        }
    }

    /// Threads computing bands (1: the calling worker alone).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Whether a picture of `pixels` is worth splitting here.
    pub fn splits(&self, pixels: u64) -> bool {
        self.threads > 1 && pixels >= BIG_PICTURE_PIXELS
    }

    /// `f` applied to every item, the results in the items' order. Which thread computes which
    /// item is not fixed; the results never depend on it. A panic in `f` comes back to the
    /// caller (where the stage catches it).
    pub fn map<T, R, F>(&self, items: Vec<T>, f: F) -> Vec<R>
    where
        T: Send,
        R: Send,
        F: Fn(T) -> R + Sync + Send,
    {
        let pool = match self.pool() {
            Some(pool) if items.len() > 1 => pool,
            _ => return items.into_iter().map(f).collect(),
        };
        let run = || pool.install(|| items.into_par_iter().map(&f).collect());
        if rayon::current_thread_index().is_none() {
            return run();
        }
        // A rayon worker (the rayon engine's) waiting in `install` would take other files'
        // tasks meanwhile, and one of them waiting for memory this picture holds would never
        // return. A plain thread waits without taking anything.
        std::thread::scope(|s| match s.spawn(run).join() {
            Ok(results) => results,
            Err(panic) => std::panic::resume_unwind(panic),
        })
    }

    fn pool(&self) -> Option<&rayon::ThreadPool> {
        if self.threads <= 1 {
            return None;
        }
        self.pool
            .get_or_init(|| {
                // Without a pool (a thread limit) the bands run on the caller: same bytes.
                rayon::ThreadPoolBuilder::new()
                    .num_threads(self.threads)
                    .thread_name(|i| format!("graypipe-band-{i}"))
                    .build()
                    .ok()
            })
            .as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_the_order_for_any_thread_count() {
        let items: Vec<u64> = (0..1000).collect();
        let want: Vec<u64> = items.iter().map(|x| x * x + 1).collect();
        for threads in [1, 2, 3, 8] {
            let bands = Bands::new(threads);
            assert_eq!(bands.map(items.clone(), |x| x * x + 1), want);
        }
    }

    #[test]
    fn a_panic_in_a_band_reaches_the_caller() {
        let bands = Bands::new(2);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            bands.map((0..10).collect::<Vec<u32>>(), |x| {
                assert!(x != 7, "band seven");
                x
            })
        }));
        assert!(caught.is_err());
        // The pool still works afterwards.
        assert_eq!(bands.map(vec![1, 2], |x: u32| x + 1), vec![2, 3]);
    }

    use crate::codec::{self, DecodeLimits, DecodedImage, OutputFormat, ReadMode};
    use crate::ops::{ChannelLayout, Luma, Operation};
    use crate::pipeline::stages::{encode_with, process, process_with, Scratch, Settings};

    /// A picture just over the split size: smooth gradients with noise, RGB.
    fn big_rgb() -> (u32, u32, Vec<u8>) {
        let (w, h) = (2100u32, 2000u32);
        assert!(u64::from(w * h) >= BIG_PICTURE_PIXELS);
        let mut s = 99u32;
        let data = (0..w * h * 3)
            .map(|i| {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                let (x, y) = ((i / 3) % w, (i / 3) / w);
                ((x / 9 + y / 7 + (i % 3) * 50) as u8).wrapping_add((s >> 29) as u8)
            })
            .collect();
        (w, h, data)
    }

    fn decoded(w: u32, h: u32, data: &[u8]) -> DecodedImage {
        DecodedImage {
            width: w,
            height: h,
            layout: ChannelLayout::Rgb,
            data: data.to_vec(),
            warnings: Vec::new(),
        }
    }

    /// The independent whole-picture path (one worker: no split) against bands on 2 and 3
    /// threads: same pixels and level for every operation, and the same PNG bytes (banded by
    /// the picture's size whatever the threads), which decode to those pixels.
    #[test]
    fn bands_give_the_whole_pictures_pixels_and_the_same_png_for_any_threads() {
        let (w, h, rgb) = big_rgb();
        let mut ops = 0;
        for spec in [
            "gray",
            "otsu",
            "tozero:triangle",
            "trunc:100",
            "adaptive-gaussian:11:2",
            "adaptive-mean-inv:31:-3",
            "adaptive-gaussian:301:0",
        ] {
            let settings = Settings {
                operation: spec.parse::<Operation>().unwrap(),
                ..Settings::default()
            };
            let whole = process(decoded(w, h, &rgb), &settings, &mut Scratch::default()).unwrap();
            let png = encode_with(&whole, OutputFormat::Png, &settings, &Bands::serial()).unwrap();
            let back = codec::decode_as(&png, &DecodeLimits::default(), ReadMode::Gray).unwrap();
            assert_eq!(back.data, whole.data, "{spec}: the banded PNG reads back");
            for threads in [2, 3] {
                let bands = Bands::new(threads);
                assert!(bands.splits(u64::from(w * h)));
                let split = process_with(
                    decoded(w, h, &rgb),
                    &settings,
                    &mut Scratch::default(),
                    &bands,
                )
                .unwrap();
                assert_eq!(split, whole, "{spec} on {threads} threads");
                let again = encode_with(&split, OutputFormat::Png, &settings, &bands).unwrap();
                assert!(again == png, "{spec}: PNG bytes on {threads} threads");
            }
            ops += 1;
        }
        assert_eq!(ops, 7);
    }

    /// Reading straight to gray (JPEG scanlines, PNG rows at 8 and 16 bits) gives what the
    /// whole-picture decode and the gray kernel give.
    #[test]
    fn decoding_straight_to_gray_equals_decoding_then_converting() {
        use image::ImageEncoder;
        let (w, h, rgb) = big_rgb();
        let mut files = Vec::new();
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .write_image(&rgb, w, h, image::ExtendedColorType::Rgb8)
            .unwrap();
        files.push(("jpeg", jpeg));
        let mut png8 = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png8)
            .write_image(&rgb, w, h, image::ExtendedColorType::Rgb8)
            .unwrap();
        files.push(("png8", png8));
        let rgba16: Vec<u8> = rgb
            .chunks_exact(3)
            .flat_map(|p| {
                let s = |v: u8| [v, v.wrapping_mul(31)];
                [s(p[0]), s(p[1]), s(p[2]), [0x80, 0x01]].concat()
            })
            .collect();
        let mut png16 = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png16)
            .write_image(&rgba16, w, h, image::ExtendedColorType::Rgba16)
            .unwrap();
        files.push(("png16", png16));
        let limits = DecodeLimits::default();
        for (name, bytes) in &files {
            assert!(codec::decodes_to_gray(bytes), "{name}");
            for luma in [Luma::Bt601, Luma::Bt709] {
                let colour = codec::decode_as(bytes, &limits, ReadMode::Color).unwrap();
                assert_ne!(colour.layout, ChannelLayout::Gray, "{name}");
                let mut want = Vec::new();
                crate::ops::to_gray(&colour.data, colour.layout, luma, &mut want);
                let got = codec::decode_color_to_gray(bytes, &limits, luma).unwrap();
                assert_eq!(got.layout, ChannelLayout::Gray, "{name}");
                assert_eq!((got.width, got.height), (w, h), "{name}");
                assert!(got.data == want, "{name} {luma:?}");
            }
        }
    }

    #[test]
    fn only_big_pictures_are_split_and_only_with_several_workers() {
        assert!(!Bands::serial().splits(u64::MAX));
        assert!(!Bands::new(2).splits(BIG_PICTURE_PIXELS - 1));
        assert!(Bands::new(2).splits(BIG_PICTURE_PIXELS));
    }
}
