//! The five stages (read, decode, process, encode, write) and [`PerStage`], one value per stage.

use std::ops::{Index, IndexMut};

use serde::{Deserialize, Serialize};

/// One of the pipeline's five stages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Reading the file's bytes.
    Read,
    /// Decoding them to pixels.
    Decode,
    /// Gray conversion and threshold.
    Process,
    /// Encoding the result.
    Encode,
    /// Writing the output file.
    Write,
}

impl Stage {
    /// All stages in pipeline order.
    pub const ALL: [Stage; 5] = [
        Stage::Read,
        Stage::Decode,
        Stage::Process,
        Stage::Encode,
        Stage::Write,
    ];

    /// The stage's lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Read => "read",
            Stage::Decode => "decode",
            Stage::Process => "process",
            Stage::Encode => "encode",
            Stage::Write => "write",
        }
    }

    /// Position in [`Stage::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One value per stage, indexed by [`Stage`]. Serialised as a five-element array in
/// [`Stage::ALL`] order, as the plain arrays it replaces were.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PerStage<T>(pub [T; 5]);

impl<T> PerStage<T> {
    /// A value per stage, `f(stage)`.
    pub fn from_fn(mut f: impl FnMut(Stage) -> T) -> Self {
        PerStage(Stage::ALL.map(&mut f))
    }

    /// The values in stage order.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// The values in stage order, to change.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.0.iter_mut()
    }

    /// Each stage with its value, in stage order.
    pub fn stages(&self) -> impl Iterator<Item = (Stage, &T)> {
        Stage::ALL.into_iter().zip(self.0.iter())
    }

    /// `f` of each value, by reference.
    pub fn map_ref<U>(&self, f: impl FnMut(&T) -> U) -> PerStage<U> {
        PerStage(self.0.each_ref().map(f))
    }

    /// `f` of each value.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> PerStage<U> {
        PerStage(self.0.map(f))
    }
}

impl<T> Index<Stage> for PerStage<T> {
    type Output = T;
    fn index(&self, s: Stage) -> &T {
        &self.0[s.index()]
    }
}

impl<T> IndexMut<Stage> for PerStage<T> {
    fn index_mut(&mut self, s: Stage) -> &mut T {
        &mut self.0[s.index()]
    }
}

impl<'a, T> IntoIterator for &'a PerStage<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexed_by_stage_and_serialised_as_the_array() {
        let mut p = PerStage::from_fn(|s| s.index() as f64);
        p[Stage::Write] += 0.5;
        assert_eq!(p[Stage::Decode], 1.0);
        assert_eq!(serde_json::to_string(&p).unwrap(), "[0.0,1.0,2.0,3.0,4.5]");
        let back: PerStage<f64> = serde_json::from_str("[0.0,1.0,2.0,3.0,4.5]").unwrap();
        assert_eq!(back, p);
        assert_eq!(Stage::Encode.to_string(), "encode");
    }
}
