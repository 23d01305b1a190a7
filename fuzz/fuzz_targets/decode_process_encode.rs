//! Arbitrary bytes through decode -> gray -> an operation -> encode: nothing may panic, and a
//! decoded picture must always encode.
#![no_main]

use graypipe::codec::{decode, encode, DecodeLimits, OutputFormat, PngCompression};
use graypipe::ops::{apply, to_gray, Luma, Operation};
use libfuzzer_sys::fuzz_target;

const OPS: [&str; 6] = ["gray", "binary:127", "otsu", "tozero-inv:triangle", "adaptive-mean:5:2", "adaptive-gaussian:11:-1"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    // A small limit keeps each run fast; the limit itself is part of what is exercised.
    let limits = DecodeLimits { max_pixels: 1 << 22 };
    let Ok(img) = decode(bytes, &limits) else { return };
    let (w, h) = (img.width, img.height);
    assert_eq!(img.data.len(), w as usize * h as usize * img.layout.channels());
    let mut gray = Vec::new();
    to_gray(&img.data, img.layout, Luma::Bt601, &mut gray);
    let spec = OPS[selector as usize % OPS.len()];
    let op: Operation = spec.parse().expect("valid spec");
    apply(&op, w as usize, h as usize, &mut gray, &mut Vec::new()).expect("a decoded picture's size matches its samples");
    let mut out = Vec::new();
    let one_bit = op.is_two_valued() && selector & 0x80 != 0;
    encode(&gray, w, h, OutputFormat::Png, one_bit, PngCompression::Fast, &mut out).expect("a decoded picture encodes");
});
