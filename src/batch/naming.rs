//! Output file names: `--name TEMPLATE` and `--suffix S`. The folder part of an output path
//! always mirrors the input's; only the file name is templated.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// The input file name without its last extension.
    Stem,
    /// The input's extension as written, without the dot ("" when none).
    Ext,
    /// The output format's extension, without the dot.
    OutExt,
}

/// A file-name template: `{stem}`, `{ext}` and `{outext}` between literal text, e.g.
/// `{stem}.{ext}.png` or `{stem}_bw`. The output extension is appended unless the template
/// itself ends with it (`.{outext}`, or the extension written out), so a name always says what
/// its content is; it is decided on the template, not on the expanded name, so that
/// `{stem}.{ext}` names `x.png` `x.png.png`, like `x.jpg` `x.jpg.png`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameTemplate {
    parts: Vec<Part>,
    text: String,
}

/// A template that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameTemplateError {
    /// Nothing to name a file with.
    #[error("an output name template cannot be empty")]
    Empty,
    /// A `/`, `\` or NUL: the template names a file, its folder mirrors the input's.
    #[error("'{0}' holds a path separator or NUL; a template names the file only (its folder mirrors the input's)")]
    Separator(String),
    /// `{something}` that is not a placeholder, or a lone brace.
    #[error("'{template}': unknown placeholder or lone brace at '{at}' (placeholders: {{stem}}, {{ext}}, {{outext}})")]
    Placeholder {
        /// The template.
        template: String,
        /// The offending text.
        at: String,
    },
}

impl FromStr for NameTemplate {
    type Err = NameTemplateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(NameTemplateError::Empty);
        }
        if text.contains(['/', '\\', '\0']) {
            return Err(NameTemplateError::Separator(text.to_string()));
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let bad = |at: &str| NameTemplateError::Placeholder {
                template: text.to_string(),
                at: at.to_string(),
            };
            match rest.find(['{', '}']) {
                None => {
                    parts.push(Part::Literal(rest.to_string()));
                    rest = "";
                }
                Some(i) => {
                    if i > 0 {
                        parts.push(Part::Literal(rest[..i].to_string()));
                    }
                    let tail = &rest[i..];
                    let end = tail.find('}').ok_or_else(|| bad(tail))?;
                    let part = match &tail[..=end] {
                        "{stem}" => Part::Stem,
                        "{ext}" => Part::Ext,
                        "{outext}" => Part::OutExt,
                        other => return Err(bad(other)),
                    };
                    parts.push(part);
                    rest = &tail[end + 1..];
                }
            }
        }
        Ok(Self {
            parts,
            text: text.to_string(),
        })
    }
}

impl fmt::Display for NameTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl NameTemplate {
    /// `--suffix S`: the same as `--name '{stem}S'`.
    pub fn suffix(suffix: &str) -> Result<Self, NameTemplateError> {
        if suffix.contains(['{', '}']) {
            return Err(NameTemplateError::Placeholder {
                template: suffix.to_string(),
                at: suffix.to_string(),
            });
        }
        format!("{{stem}}{suffix}").parse()
    }

    /// The output path for the input at `relative` (below its input folder) written with
    /// extension `out_ext`: the same folders, the templated file name.
    pub fn output_relative(&self, relative: &Path, out_ext: &str) -> PathBuf {
        let empty = OsStr::new("");
        let stem = relative.file_stem().unwrap_or(empty);
        let ext = relative.extension().unwrap_or(empty);
        let mut name = OsString::new();
        for part in &self.parts {
            match part {
                Part::Literal(s) => name.push(s),
                Part::Stem => name.push(stem),
                Part::Ext => name.push(ext),
                Part::OutExt => name.push(out_ext),
            }
        }
        let ending = format!(".{out_ext}").to_ascii_lowercase();
        let ends_with_extension = match self.parts.last() {
            Some(Part::OutExt) => true,
            Some(Part::Literal(s)) => s.to_ascii_lowercase().ends_with(&ending),
            _ => false,
        };
        if !ends_with_extension {
            name.push(".");
            name.push(out_ext);
        }
        relative.with_file_name(name)
    }
}

/// How outputs are named: mirrored with the output extension (the default), or templated.
pub fn output_relative(template: Option<&NameTemplate>, relative: &Path, out_ext: &str) -> PathBuf {
    match template {
        Some(t) => t.output_relative(relative, out_ext),
        None => relative.with_extension(out_ext),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(template: &str, relative: &str, ext: &str) -> PathBuf {
        template
            .parse::<NameTemplate>()
            .unwrap()
            .output_relative(Path::new(relative), ext)
    }

    #[test]
    fn placeholders_expand_and_folders_are_kept() {
        assert_eq!(
            name("{stem}.{ext}.png", "a/x.jpg", "png"),
            Path::new("a/x.jpg.png")
        );
        assert_eq!(
            name("{stem}.{ext}.{outext}", "x.JPG", "png"),
            Path::new("x.JPG.png")
        );
        assert_eq!(
            name("gray-{stem}", "a/b/x.tif", "webp"),
            Path::new("a/b/gray-x.webp")
        );
    }

    #[test]
    fn the_output_extension_is_appended_when_missing() {
        assert_eq!(name("{stem}.png", "x.jpg", "jpg"), Path::new("x.png.jpg"));
        assert_eq!(name("{stem}.PNG", "x.jpg", "png"), Path::new("x.PNG"));
        assert_eq!(
            name("{stem}_{ext}", "noext", "png"),
            Path::new("noext_.png")
        );
        assert_eq!(name("{stem}.{ext}", "x.png", "png"), Path::new("x.png.png"));
        assert_eq!(
            name("{stem}.{ext}.png", "x.png", "png"),
            Path::new("x.png.png")
        );
    }

    #[test]
    fn suffix_is_stem_then_suffix() {
        let t = NameTemplate::suffix("_bw").unwrap();
        assert_eq!(
            t.output_relative(Path::new("a/x.jpg"), "png"),
            Path::new("a/x_bw.png")
        );
        assert!(NameTemplate::suffix("/x").is_err());
        assert!(NameTemplate::suffix("{ext}").is_err());
    }

    #[test]
    fn bad_templates_are_refused() {
        assert_eq!("".parse::<NameTemplate>(), Err(NameTemplateError::Empty));
        assert!(matches!(
            "a/{stem}".parse::<NameTemplate>(),
            Err(NameTemplateError::Separator(_))
        ));
        assert!(matches!(
            "{name}".parse::<NameTemplate>(),
            Err(NameTemplateError::Placeholder { .. })
        ));
        assert!(matches!(
            "{stem".parse::<NameTemplate>(),
            Err(NameTemplateError::Placeholder { .. })
        ));
        assert!(matches!(
            "stem}".parse::<NameTemplate>(),
            Err(NameTemplateError::Placeholder { .. })
        ));
    }

    #[test]
    fn default_naming_mirrors_with_the_output_extension() {
        assert_eq!(
            output_relative(None, Path::new("a/x.jpg"), "png"),
            Path::new("a/x.png")
        );
    }
}
