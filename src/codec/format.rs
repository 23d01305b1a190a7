//! File formats: which inputs are picked up, which outputs can be written, and their names.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// An input format recognised by file extension when folders are walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// `.jpg`, `.jpeg`
    Jpeg,
    /// `.png`
    Png,
    /// `.bmp`
    Bmp,
    /// `.tif`, `.tiff`
    Tiff,
    /// `.webp`
    WebP,
    /// `.gif`
    Gif,
    /// `.pbm`, `.pgm`, `.ppm`, `.pnm`, `.pam` (OpenCV reads PAM too)
    Pnm,
}

impl InputFormat {
    /// The format a path's extension names (case-insensitive), if it is an image extension.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "jpg" | "jpeg" => InputFormat::Jpeg,
            "png" => InputFormat::Png,
            "bmp" => InputFormat::Bmp,
            "tif" | "tiff" => InputFormat::Tiff,
            "webp" => InputFormat::WebP,
            "gif" => InputFormat::Gif,
            "pbm" | "pgm" | "ppm" | "pnm" | "pam" => InputFormat::Pnm,
            _ => return None,
        })
    }

    /// The output format that writes this format again (`--format same`).
    pub fn same_output(self) -> OutputFormat {
        match self {
            InputFormat::Jpeg => OutputFormat::Jpeg,
            InputFormat::Png => OutputFormat::Png,
            InputFormat::Bmp => OutputFormat::Bmp,
            InputFormat::Tiff => OutputFormat::Tiff,
            InputFormat::WebP => OutputFormat::WebP,
            InputFormat::Gif => OutputFormat::Gif,
            InputFormat::Pnm => OutputFormat::Pnm,
        }
    }
}

/// A format graypipe writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// PNG, 8-bit gray or 1-bit for two-valued results.
    Png,
    /// Baseline JPEG, quality 95 (`cv2.imwrite`'s default); lossy.
    Jpeg,
    /// 8-bit palette BMP.
    Bmp,
    /// 8-bit gray TIFF, uncompressed.
    Tiff,
    /// Lossless WebP.
    WebP,
    /// Binary PGM.
    Pnm,
    /// GIF with a 256-level gray palette (lossless for gray); only through `--format same`.
    Gif,
}

impl OutputFormat {
    /// The extension written for this format.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Png => "png",
            OutputFormat::Jpeg => "jpg",
            OutputFormat::Bmp => "bmp",
            OutputFormat::Tiff => "tif",
            OutputFormat::WebP => "webp",
            OutputFormat::Pnm => "pgm",
            OutputFormat::Gif => "gif",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutputFormat::Png => "png",
            OutputFormat::Jpeg => "jpeg",
            OutputFormat::Bmp => "bmp",
            OutputFormat::Tiff => "tiff",
            OutputFormat::WebP => "webp",
            OutputFormat::Pnm => "pnm",
            OutputFormat::Gif => "gif",
        })
    }
}

/// The `--format` choice: one format for every file, or each input's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatChoice {
    /// Every output in this format.
    Fixed(OutputFormat),
    /// Each output in its input's format (PNG when the input's extension names none).
    Same,
}

impl Default for FormatChoice {
    fn default() -> Self {
        FormatChoice::Fixed(OutputFormat::Png)
    }
}

impl fmt::Display for FormatChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatChoice::Fixed(o) => o.fmt(f),
            FormatChoice::Same => f.write_str("same"),
        }
    }
}

impl FormatChoice {
    /// The output format for one input path.
    pub fn for_input(self, input: &Path) -> OutputFormat {
        match self {
            FormatChoice::Fixed(f) => f,
            FormatChoice::Same => {
                InputFormat::from_path(input).map_or(OutputFormat::Png, InputFormat::same_output)
            }
        }
    }
}

impl FromStr for FormatChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(FormatChoice::Fixed(match s.to_ascii_lowercase().as_str() {
            "png" => OutputFormat::Png,
            "jpeg" | "jpg" => OutputFormat::Jpeg,
            "bmp" => OutputFormat::Bmp,
            "tiff" | "tif" => OutputFormat::Tiff,
            "webp" => OutputFormat::WebP,
            "pnm" | "pgm" => OutputFormat::Pnm,
            "same" => return Ok(FormatChoice::Same),
            _ => {
                return Err(format!(
                    "unknown format '{s}': expected png, jpeg, bmp, tiff, webp, pnm or same"
                ))
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_case_insensitive() {
        assert_eq!(
            InputFormat::from_path(Path::new("a/B.JPG")),
            Some(InputFormat::Jpeg)
        );
        assert_eq!(
            InputFormat::from_path(Path::new("x.Tiff")),
            Some(InputFormat::Tiff)
        );
        assert_eq!(
            InputFormat::from_path(Path::new("x.PAM")),
            Some(InputFormat::Pnm)
        );
        assert_eq!(InputFormat::from_path(Path::new("x.txt")), None);
        assert_eq!(InputFormat::from_path(Path::new("noext")), None);
    }

    #[test]
    fn same_keeps_the_input_format() {
        let same = FormatChoice::Same;
        assert_eq!(same.for_input(Path::new("a.jpeg")), OutputFormat::Jpeg);
        assert_eq!(same.for_input(Path::new("a.ppm")), OutputFormat::Pnm);
        assert_eq!(same.for_input(Path::new("a.gif")), OutputFormat::Gif);
        assert_eq!(
            "png".parse::<FormatChoice>(),
            Ok(FormatChoice::Fixed(OutputFormat::Png))
        );
        assert!("gif".parse::<FormatChoice>().is_err());
    }
}
