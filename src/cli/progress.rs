//! Progress bar and per-file lines on stderr.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar shown only when stderr is a terminal and the run is not quiet; per-file
/// lines are printed above it so the two never garble each other.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar for `total` files, coloured only when `color` (`--color`, NO_COLOR).
    pub fn new(total: u64, quiet: bool, color: bool) -> Self {
        let visible = !quiet && std::io::stderr().is_terminal();
        let target = if visible {
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        let template = if color {
            "{bar:30.cyan/blue} {pos}/{len} files  {per_sec:.dim}  ETA {eta}  {wide_msg}"
        } else {
            "{bar:30} {pos}/{len} files  {per_sec}  ETA {eta}  {wide_msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        if visible {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        Self { bar }
    }

    /// Prints a line above the bar (or plainly when there is no bar).
    pub fn line(&self, msg: &str) {
        if self.bar.is_hidden() {
            super::output::stderr_line(msg);
        } else {
            self.bar.println(msg);
        }
    }

    /// One more file finished.
    pub fn inc(&self) {
        self.bar.inc(1);
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
