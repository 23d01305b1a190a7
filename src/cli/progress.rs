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
    /// A bar for `total` files.
    pub fn new(total: u64, quiet: bool) -> Self {
        let visible = !quiet && std::io::stderr().is_terminal();
        let target = if visible {
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        if let Ok(style) = ProgressStyle::with_template(
            "{bar:30.cyan/blue} {pos}/{len} files  {per_sec:.dim}  ETA {eta}  {wide_msg}",
        ) {
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
