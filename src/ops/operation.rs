//! What to do to each gray image: the `--threshold SPEC` grammar and the function applying it.

use std::fmt;
use std::str::FromStr;

use super::adaptive::{adaptive_threshold, AdaptiveMethod, MAX_BLOCK};
use super::histogram::histogram;
use super::otsu::otsu_threshold;
use super::threshold::{saturate_u8, threshold, threshold_in_place};
use super::triangle::triangle_threshold;
use super::GrayView;

/// OpenCV's five fixed threshold types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThresholdType {
    /// `THRESH_BINARY`: `x > T ? maxval : 0`.
    Binary,
    /// `THRESH_BINARY_INV`: `x > T ? 0 : maxval`.
    BinaryInv,
    /// `THRESH_TRUNC`: `x > T ? T : x`.
    Trunc,
    /// `THRESH_TOZERO`: `x > T ? x : 0`.
    ToZero,
    /// `THRESH_TOZERO_INV`: `x > T ? 0 : x`.
    ToZeroInv,
}

impl ThresholdType {
    const NAMES: [(&'static str, ThresholdType); 5] = [
        ("binary", ThresholdType::Binary),
        ("binary-inv", ThresholdType::BinaryInv),
        ("trunc", ThresholdType::Trunc),
        ("tozero", ThresholdType::ToZero),
        ("tozero-inv", ThresholdType::ToZeroInv),
    ];

    fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("binary", |(n, _)| n)
    }
}

/// Where a fixed-type threshold gets its level from.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// A given level (may be fractional; OpenCV floors it).
    Fixed(f64),
    /// Otsu's method on the image's histogram.
    Otsu,
    /// The Triangle method on the image's histogram.
    Triangle,
}

/// The processing applied after conversion to gray.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Operation {
    /// Gray conversion only.
    Gray,
    /// `cv2.threshold` with a fixed, Otsu or Triangle level.
    Threshold {
        /// The threshold type.
        kind: ThresholdType,
        /// Where the level comes from.
        level: Level,
        /// `maxval`.
        maxval: f64,
    },
    /// `cv2.adaptiveThreshold`.
    Adaptive {
        /// Mean or Gaussian local mean.
        method: AdaptiveMethod,
        /// `THRESH_BINARY_INV` instead of `THRESH_BINARY`.
        inverse: bool,
        /// Odd window size, 3 to [`super::adaptive::MAX_BLOCK`].
        block: usize,
        /// The constant subtracted from the mean.
        c: f64,
        /// `maxval`.
        maxval: f64,
    },
}

/// The grammar shown with every rejected SPEC.
pub const SPEC_GRAMMAR: &str = "\
expected one of:
  TYPE:LEVEL            TYPE is binary, binary-inv, trunc, tozero or tozero-inv;
                        LEVEL is a number (e.g. 127 or 127.5), otsu or triangle
  adaptive-mean:B:C     adaptive-gaussian:B:C     (B odd, 3 to 32767; C a number)
  adaptive-mean-inv:B:C adaptive-gaussian-inv:B:C
  otsu | triangle | NUMBER   shorthand for binary:otsu, binary:triangle, binary:NUMBER";

/// A `--threshold SPEC` that does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid threshold '{spec}': {reason}\n{SPEC_GRAMMAR}")]
pub struct ParseOperationError {
    spec: String,
    reason: String,
}

fn parse_number(s: &str, what: &str, spec: &str) -> Result<f64, ParseOperationError> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| ParseOperationError {
            spec: spec.into(),
            reason: format!("{what} '{s}' is not a finite number"),
        })
}

impl Operation {
    /// Parses a SPEC with the given `maxval`.
    pub fn parse(spec: &str, maxval: f64) -> Result<Self, ParseOperationError> {
        let err = |reason: String| ParseOperationError {
            spec: spec.into(),
            reason,
        };
        let parts: Vec<&str> = spec.trim().split(':').collect();
        let level = |s: &str| -> Result<Level, ParseOperationError> {
            match s {
                "otsu" => Ok(Level::Otsu),
                "triangle" => Ok(Level::Triangle),
                _ => Ok(Level::Fixed(parse_number(s, "level", spec)?)),
            }
        };
        match parts.as_slice() {
            [""] => Err(err("empty".into())),
            // As Display prints it: gray conversion only.
            ["gray"] => Ok(Operation::Gray),
            [single] => {
                let level = level(single)?;
                Ok(Operation::Threshold {
                    kind: ThresholdType::Binary,
                    level,
                    maxval,
                })
            }
            [name, lv] => {
                let kind = ThresholdType::NAMES
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, t)| *t)
                    .ok_or_else(|| err(format!("unknown threshold type '{name}'")))?;
                Ok(Operation::Threshold {
                    kind,
                    level: level(lv)?,
                    maxval,
                })
            }
            [name, block, c] => {
                let (method, inverse) = match *name {
                    "adaptive-mean" => (AdaptiveMethod::Mean, false),
                    "adaptive-mean-inv" => (AdaptiveMethod::Mean, true),
                    "adaptive-gaussian" => (AdaptiveMethod::Gaussian, false),
                    "adaptive-gaussian-inv" => (AdaptiveMethod::Gaussian, true),
                    _ => return Err(err(format!("unknown adaptive method '{name}'"))),
                };
                let block: usize = block
                    .parse()
                    .ok()
                    .filter(|b| b % 2 == 1 && (3..=MAX_BLOCK).contains(b))
                    .ok_or_else(|| {
                        err(format!(
                            "block '{block}' must be an odd integer from 3 to {MAX_BLOCK}"
                        ))
                    })?;
                Ok(Operation::Adaptive {
                    method,
                    inverse,
                    block,
                    c: parse_number(c, "C", spec)?,
                    maxval,
                })
            }
            _ => Err(err("too many ':'-separated parts".into())),
        }
    }

    /// The same operation with another `maxval` (no effect on gray only).
    pub fn with_maxval(self, m: f64) -> Self {
        match self {
            Operation::Gray => Operation::Gray,
            Operation::Threshold { kind, level, .. } => Operation::Threshold {
                kind,
                level,
                maxval: m,
            },
            Operation::Adaptive {
                method,
                inverse,
                block,
                c,
                ..
            } => Operation::Adaptive {
                method,
                inverse,
                block,
                c,
                maxval: m,
            },
        }
    }

    /// The value given to pixels that pass (`--maxval`); `None` for gray only, which has none.
    pub fn maxval(&self) -> Option<f64> {
        match *self {
            Operation::Gray => None,
            Operation::Threshold { maxval, .. } | Operation::Adaptive { maxval, .. } => {
                Some(maxval)
            }
        }
    }

    /// True when every output pixel is 0 or 255, so the result can be stored in one bit (one
    /// input of the 1-bit PNG decision, which `codec::encode::one_bit_png` makes).
    pub fn is_two_valued(&self) -> bool {
        let max_ok = |maxval: f64| matches!(saturate_u8(maxval), 0 | 255);
        match *self {
            Operation::Gray => false,
            Operation::Threshold { kind, maxval, .. } => {
                matches!(kind, ThresholdType::Binary | ThresholdType::BinaryInv) && max_ok(maxval)
            }
            Operation::Adaptive { maxval, .. } => maxval < 0.0 || max_ok(maxval),
        }
    }
}

impl Level {
    /// The threshold this level gives on `gray`: the fixed value, or Otsu's or Triangle's.
    pub fn value(self, gray: &[u8]) -> f64 {
        match self {
            Level::Fixed(t) => t,
            Level::Otsu => otsu_threshold(&histogram(gray)) as f64,
            Level::Triangle => triangle_threshold(&histogram(gray)) as f64,
        }
    }
}

impl FromStr for Operation {
    type Err = ParseOperationError;
    /// Parses a SPEC with maxval 255.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Operation::parse(s, 255.0)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Operation::Gray => write!(f, "gray"),
            Operation::Threshold { kind, level, .. } => match level {
                Level::Fixed(t) => write!(f, "{}:{t}", kind.name()),
                Level::Otsu => write!(f, "{}:otsu", kind.name()),
                Level::Triangle => write!(f, "{}:triangle", kind.name()),
            },
            Operation::Adaptive {
                method,
                inverse,
                block,
                c,
                ..
            } => {
                let m = match method {
                    AdaptiveMethod::Mean => "mean",
                    AdaptiveMethod::Gaussian => "gaussian",
                };
                let inv = if inverse { "-inv" } else { "" };
                write!(f, "adaptive-{m}{inv}:{block}:{c}")
            }
        }
    }
}

/// What [`apply`] did beyond the pixels: the level Otsu or Triangle picked.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Processed {
    /// The level used by a fixed-type threshold (computed for Otsu and Triangle).
    pub level: Option<f64>,
}

/// `width` x `height` does not match the number of gray samples given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{samples} gray samples for a {width} x {height} picture")]
pub struct SizeMismatch {
    /// The width given.
    pub width: usize,
    /// The height given.
    pub height: usize,
    /// The samples given.
    pub samples: usize,
}

/// `samples` read as `width` x `height` rows: the size check [`apply`] and [`apply_into`]
/// make before any operation.
fn rows(width: usize, height: usize, samples: &[u8]) -> Result<GrayView<'_>, SizeMismatch> {
    GrayView::new(width, height, samples).ok_or(SizeMismatch {
        width,
        height,
        samples: samples.len(),
    })
}

/// Applies `op` to the gray image `gray` in place (`scratch` is reused working memory).
/// `gray` must hold `width * height` samples, for every operation (the adaptive ones read it
/// as rows): anything else is an error, and `gray` is left as it was.
pub fn apply(
    op: &Operation,
    width: usize,
    height: usize,
    gray: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Result<Processed, SizeMismatch> {
    rows(width, height, gray)?;
    Ok(match *op {
        Operation::Gray => Processed::default(),
        Operation::Threshold {
            kind,
            level,
            maxval,
        } => {
            let t = level.value(gray);
            threshold_in_place(gray, t, maxval, kind);
            Processed { level: Some(t) }
        }
        // The adaptive threshold reads a neighbourhood of each pixel: it cannot work in place.
        Operation::Adaptive { .. } => {
            let processed = apply_into(op, width, height, gray, scratch)?;
            std::mem::swap(gray, scratch);
            processed
        }
    })
}

/// [`apply`] reading `src` and writing `out` (resized to `src.len()`), for callers that must
/// keep the input: one pass fewer than copying it and working in place. For fixed, Otsu and
/// Triangle thresholds every element of `out` is overwritten, so a reused buffer is not zeroed
/// first. The result equals [`apply`]'s on a copy of `src`.
pub fn apply_into(
    op: &Operation,
    width: usize,
    height: usize,
    src: &[u8],
    out: &mut Vec<u8>,
) -> Result<Processed, SizeMismatch> {
    let view = rows(width, height, src)?;
    Ok(match *op {
        Operation::Threshold {
            kind,
            level,
            maxval,
        } => {
            let t = level.value(src);
            threshold(src, t, maxval, kind, out);
            Processed { level: Some(t) }
        }
        Operation::Adaptive {
            method,
            inverse,
            block,
            c,
            maxval,
        } => {
            adaptive_threshold(view, maxval, method, inverse, block, c, out);
            Processed::default()
        }
        Operation::Gray => {
            out.clear();
            out.extend_from_slice(src);
            Processed::default()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_into_equals_apply_on_a_copy_even_into_a_dirty_buffer() {
        let (w, h) = (37, 11);
        let src: Vec<u8> = (0..w * h).map(|i| ((i * 73) ^ (i / 5)) as u8).collect();
        let mut tested = 0;
        for spec in [
            "127",
            "binary-inv:12.5",
            "trunc:200",
            "tozero:-3",
            "tozero-inv:300",
            "otsu",
            "tozero:triangle",
            "adaptive-mean:5:2",
            "adaptive-gaussian-inv:7:-1",
        ] {
            for maxval in [255.0, 100.0, -1.0] {
                let op = Operation::parse(spec, maxval).unwrap();
                tested += 1;
                let mut want = src.clone();
                let want_done = apply(&op, w, h, &mut want, &mut Vec::new()).unwrap();
                for start in [Vec::new(), vec![0xA5; 3], vec![0x5A; w * h + 9]] {
                    let mut out = start;
                    let done = apply_into(&op, w, h, &src, &mut out).unwrap();
                    assert_eq!(out, want, "{spec} maxval {maxval}");
                    assert_eq!(done, want_done, "{spec} maxval {maxval}");
                }
            }
        }
        assert_eq!(tested, 27);
        let mut out = vec![1; 5];
        apply_into(&Operation::Gray, w, h, &src, &mut out).unwrap();
        assert_eq!(out, src);
        assert!(apply_into(&Operation::Gray, w, h + 1, &src, &mut out).is_err());
    }

    #[test]
    fn parses_every_form_of_the_grammar() {
        let t = |s: &str| s.parse::<Operation>().unwrap();
        assert_eq!(
            t("127"),
            Operation::Threshold {
                kind: ThresholdType::Binary,
                level: Level::Fixed(127.0),
                maxval: 255.0
            }
        );
        assert_eq!(t("otsu"), t("binary:otsu"));
        assert_eq!(t("triangle"), t("binary:triangle"));
        assert_eq!(
            t("tozero-inv:12.5"),
            Operation::Threshold {
                kind: ThresholdType::ToZeroInv,
                level: Level::Fixed(12.5),
                maxval: 255.0
            }
        );
        assert_eq!(
            t("adaptive-gaussian-inv:11:-2.5"),
            Operation::Adaptive {
                method: AdaptiveMethod::Gaussian,
                inverse: true,
                block: 11,
                c: -2.5,
                maxval: 255.0
            }
        );
        for s in [
            "binary:127",
            "trunc:otsu",
            "adaptive-mean:31:7",
            "adaptive-gaussian:11:2",
        ] {
            assert_eq!(t(s).to_string(), s);
        }
    }

    #[test]
    fn rejects_malformed_specs_with_the_grammar() {
        for bad in [
            "",
            "binary",
            "bin:127",
            "binary:abc",
            "adaptive-mean:10:2",
            "adaptive-mean:1:2",
            "adaptive-mean:11",
            "adaptive-x:11:2",
            "adaptive-mean:11:2:3",
            "binary:nan",
            "binary:inf",
            "adaptive-mean:32769:2",
            "adaptive-mean:1000000001:2",
            "adaptive-gaussian:18446744073709551615:2",
            "adaptive-gaussian:18446744073709551617:2",
            "adaptive-mean:-3:2",
            "adaptive-mean:+5x:2",
        ] {
            let e = bad.parse::<Operation>().unwrap_err().to_string();
            assert!(e.contains("expected one of"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_largest_block_is_accepted() {
        assert!("adaptive-gaussian:32767:2".parse::<Operation>().is_ok());
        assert!("adaptive-mean-inv:3:0".parse::<Operation>().is_ok());
    }

    #[test]
    fn two_valued_only_when_outputs_are_0_or_255() {
        assert!("otsu".parse::<Operation>().unwrap().is_two_valued());
        assert!("adaptive-mean:11:2"
            .parse::<Operation>()
            .unwrap()
            .is_two_valued());
        assert!(!"trunc:100".parse::<Operation>().unwrap().is_two_valued());
        assert!(!Operation::parse("binary:100", 128.0)
            .unwrap()
            .is_two_valued());
        assert!(!Operation::Gray.is_two_valued());
    }

    #[test]
    fn a_size_that_does_not_match_the_samples_is_an_error_for_every_operation() {
        for spec in ["gray", "binary:127", "otsu", "adaptive-mean:3:0"] {
            let op: Operation = spec.parse().unwrap();
            let mut gray = vec![7u8; 10];
            let e = apply(&op, 3, 3, &mut gray, &mut Vec::new()).unwrap_err();
            assert_eq!(e.to_string(), "10 gray samples for a 3 x 3 picture");
            assert_eq!(gray, [7u8; 10], "{spec}: left as it was");
            assert!(apply(&op, usize::MAX, 2, &mut gray, &mut Vec::new()).is_err());
        }
    }

    #[test]
    fn every_operation_parses_as_it_prints() {
        for spec in [
            "gray",
            "binary:127",
            "tozero-inv:otsu",
            "trunc:triangle",
            "adaptive-mean:11:2",
            "adaptive-gaussian-inv:31:-1.5",
        ] {
            let op: Operation = spec.parse().unwrap();
            assert_eq!(op.to_string(), spec);
            assert_eq!(op.to_string().parse::<Operation>().unwrap(), op);
        }
        assert_eq!("gray".parse::<Operation>().unwrap(), Operation::Gray);
    }
}
