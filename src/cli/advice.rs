//! What to do about a refused batch, in the command line's own terms (its flags). The library
//! says what is wrong; this module says which option fixes it, chosen by the kind of clash and
//! never the option the user just passed.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use graypipe::batch::NameTemplate;
use graypipe::error::printable_path;

/// Why several inputs would write one output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClashKind {
    /// Same folder, same stem, different extensions: `x.jpg` beside `x.png`.
    SameStem,
    /// The same path below different input folders (two cameras' `IMG_0001.JPG`), or files
    /// named directly (or listed from outside the current folder) with the same file name.
    SameRelativePath,
    /// The name template maps different stems onto one name (it has no `{stem}`).
    Template,
}

/// The kind of one collision, from the inputs that would write the same output.
pub fn clash_kind(inputs: &[PathBuf]) -> ClashKind {
    let names: BTreeSet<&OsStr> = inputs.iter().filter_map(|p| p.file_name()).collect();
    let stems: BTreeSet<&OsStr> = inputs.iter().filter_map(|p| p.file_stem()).collect();
    if stems.len() > 1 {
        return ClashKind::Template;
    }
    if names.len() > 1 {
        ClashKind::SameStem
    } else {
        ClashKind::SameRelativePath
    }
}

/// Advice for the collisions of one refused run: one line per kind found.
pub fn collisions(
    list: &[(PathBuf, Vec<PathBuf>)],
    naming: Option<&NameTemplate>,
    inputs: &[PathBuf],
    output: &Path,
) -> String {
    let kinds: BTreeSet<ClashKind> = list.iter().map(|(_, ins)| clash_kind(ins)).collect();
    let mut lines = Vec::new();
    for kind in kinds {
        lines.push(match kind {
            ClashKind::SameStem => same_stem(naming),
            ClashKind::SameRelativePath => same_relative_path(list, inputs, output),
            ClashKind::Template => format!(
                "the name template '{}' has no {{stem}}, so different files get one name: put {{stem}} in --name",
                naming.map(ToString::to_string).unwrap_or_default()
            ),
        });
    }
    lines.join("\n")
}

/// `x.jpg` beside `x.png`: keep the input's extension in the output name.
fn same_stem(naming: Option<&NameTemplate>) -> String {
    let template = match naming.map(ToString::to_string) {
        None => "{stem}.{ext}".to_string(),
        Some(t) if t.ends_with(".{outext}") => {
            format!("{}.{{ext}}.{{outext}}", &t[..t.len() - ".{outext}".len()])
        }
        Some(t) => format!("{t}.{{ext}}"),
    };
    let example_in = "x.jpg";
    let example = template
        .parse::<NameTemplate>()
        .map(|t| {
            t.output_relative(Path::new(example_in), "png")
                .display()
                .to_string()
        })
        .unwrap_or_default();
    format!(
        "files with the same name and different extensions: keep each input's extension in its output name with --name '{template}' ({example_in} -> {example}), or rename the inputs"
    )
}

/// The same relative path under different inputs: name the outputs after the input folders.
fn same_relative_path(
    list: &[(PathBuf, Vec<PathBuf>)],
    inputs: &[PathBuf],
    output: &Path,
) -> String {
    let clashing: Vec<&PathBuf> = list.iter().flat_map(|(_, ins)| ins).collect();
    // The input folders (or listed files' folders) the clashing files come from.
    let mut roots: Vec<PathBuf> = inputs
        .iter()
        .filter(|r| r.is_dir() && clashing.iter().any(|c| c.starts_with(r)))
        .cloned()
        .collect();
    roots.dedup();
    let absolute_output = std::path::absolute(output).unwrap_or_else(|_| output.to_path_buf());
    if roots.len() >= 2 {
        let absolute: Vec<PathBuf> = roots
            .iter()
            .map(|r| std::path::absolute(r).unwrap_or_else(|_| r.clone()))
            .collect();
        if let Some(parent) = common_parent(&absolute) {
            let rel: Vec<&Path> = absolute
                .iter()
                .filter_map(|r| r.strip_prefix(&parent).ok())
                .collect();
            let listed: Vec<String> = rel.iter().map(|r| shell_word(r)).collect();
            let per_input: Vec<String> = absolute
                .iter()
                .zip(&rel)
                .map(|(r, name)| {
                    format!(
                        "graypipe run {} -o {}",
                        shell_word(r),
                        shell_word(&absolute_output.join(name))
                    )
                })
                .collect();
            return format!(
                "the same path below different input folders: keep the folders' names in the output tree by listing the files from their common folder (add your other options):\n  \
                 cd {} && find {} -type f -print0 | graypipe run --files-from - --null -o {}\n\
                 or convert each input into its own output folder:\n  {}",
                shell_word(&parent),
                listed.join(" "),
                shell_word(&absolute_output),
                per_input.join("\n  ")
            );
        }
    }
    "files with the same name from different folders (a file given directly, or listed from outside the current folder, is named by its file name alone): \
     list them with paths relative to a common folder and run from there (--files-from), or convert them in separate runs into separate output folders (one -o each)"
        .to_string()
}

/// The deepest folder holding every path.
fn common_parent(paths: &[PathBuf]) -> Option<PathBuf> {
    let first = paths.first()?.parent()?.to_path_buf();
    let mut parent = first;
    loop {
        if paths.iter().all(|p| p.starts_with(&parent) && p != &parent) {
            return Some(parent);
        }
        parent = parent.parent()?.to_path_buf();
    }
}

/// A path as one shell word (single-quoted when it holds anything but plain characters).
fn shell_word(p: &Path) -> String {
    let text = printable_path(p);
    let plain = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c));
    if plain && !text.is_empty() {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn same_stem_suggests_ext_and_never_the_suffix_just_passed() {
        let list = vec![(p("out/x_bw.png"), vec![p("in/x.jpg"), p("in/x.png")])];
        let suffix = NameTemplate::suffix("_bw").ok();
        let advice = collisions(&list, suffix.as_ref(), &[p("in")], Path::new("out"));
        assert!(advice.contains("--name '{stem}_bw.{ext}'"), "{advice}");
        assert!(!advice.contains("--suffix"), "{advice}");
        let advice = collisions(&list, None, &[p("in")], Path::new("out"));
        assert!(
            advice.contains("--name '{stem}.{ext}' (x.jpg -> x.jpg.png)"),
            "{advice}"
        );
    }

    #[test]
    fn the_same_path_below_two_inputs_gets_folder_keeping_advice() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("cam1");
        let b = dir.path().join("cam2");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let list = vec![(
            p("out/IMG_0001.png"),
            vec![a.join("IMG_0001.JPG"), b.join("IMG_0001.JPG")],
        )];
        let advice = collisions(&list, None, &[a, b], Path::new("out"));
        assert!(
            advice.contains("find cam1 cam2 -type f -print0"),
            "{advice}"
        );
        assert!(advice.contains("/cam1 -o "), "{advice}");
        assert!(!advice.contains("--suffix"), "{advice}");
        assert!(!advice.contains("{ext}"), "{advice}");
    }

    #[test]
    fn a_template_without_stem_is_named() {
        let list = vec![(p("out/same.png"), vec![p("in/a.jpg"), p("in/b.jpg")])];
        let t: NameTemplate = "same".parse().unwrap();
        let advice = collisions(&list, Some(&t), &[p("in")], Path::new("out"));
        assert!(advice.contains("has no {stem}"), "{advice}");
    }
}
