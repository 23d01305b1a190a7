//! The command line: argument parsing and the commands, a thin layer over the library.

pub mod amdahl_cmd;
pub mod args;
pub mod merge_cmd;
pub mod progress;
pub mod run_cmd;
pub mod sweep_cmd;

use clap::Parser;

pub use args::{Cli, Command};

/// Exit status: every file succeeded.
pub const EXIT_OK: i32 = 0;
/// Exit status: at least one file failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit status: the command line or the batch was refused before any work.
pub const EXIT_USAGE: i32 = 2;
/// Exit status: stopped by SIGINT or SIGTERM (128 + 2, as shells report Ctrl-C).
pub const EXIT_INTERRUPTED: i32 = 130;

/// Parses the process arguments, runs the command and returns the exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    match cli.command {
        Command::Run(args) => run_cmd::execute(&args),
        Command::Sweep(args) => sweep_cmd::execute(&args),
        Command::Amdahl(args) => amdahl_cmd::execute(&args),
        Command::Merge(args) => merge_cmd::execute(&args),
    }
}
