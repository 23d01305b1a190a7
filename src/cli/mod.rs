//! The command line: argument parsing and the commands, a thin layer over the library.

mod advice;
mod allocator;
pub mod amdahl_cmd;
pub mod args;
pub mod compare_cmd;
pub mod merge_cmd;
pub mod output;
pub mod progress;
mod remote;
pub mod report_cmd;
pub mod run_cmd;
pub mod sweep_cmd;

use std::ffi::OsString;
use std::io::IsTerminal;

use clap::{ColorChoice, CommandFactory, FromArgMatches};

pub use args::{Cli, Command};

/// Exit status: every file succeeded.
pub const EXIT_OK: i32 = 0;
/// Exit status: at least one file failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit status: the command line or the batch was refused before any work.
pub const EXIT_USAGE: i32 = 2;
/// Exit status: stopped by SIGINT or SIGTERM (128 + 2, as shells report Ctrl-C).
pub const EXIT_INTERRUPTED: i32 = 130;

/// The exit status table shown after the options in `--help` (the README has the same).
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0    every file was written (or there was nothing to do)
  1    at least one file failed (each named on stderr); the others were written
  2    usage error, or the batch was refused before any work (colliding outputs,
       output inside an input, an output overwriting an input)
  130  interrupted by Ctrl-C or SIGTERM (written files are complete; rerun with
       --skip-existing to finish)";

/// Parses the process arguments, runs the command and returns the exit status.
pub fn main() -> i32 {
    output::ignore_file_size_signal();
    let args: Vec<OsString> = std::env::args_os().collect();
    // --color must shape the help and error messages clap prints while parsing, so it is
    // picked out of the raw arguments first; clap validates it again below.
    let color = color_choice_in(&args);
    let mut command = Cli::command().color(color);
    let parsed = command
        .try_get_matches_from_mut(&args)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(c) => c,
        Err(e) => {
            let e = e.format(&mut command);
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    let stderr_color = color_enabled(
        cli.color,
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR"),
    );
    match cli.command {
        Command::Run(args) => run_cmd::execute(&args, stderr_color),
        Command::Sweep(args) => sweep_cmd::execute(&args),
        Command::Amdahl(args) => amdahl_cmd::execute(&args),
        Command::Compare(args) => compare_cmd::execute(&args),
        Command::Completions(args) => {
            // Into memory first: clap_complete panics when its writer fails (a full disk).
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut command, "graypipe", &mut script);
            output::print_or_fail(&String::from_utf8_lossy(&script))
        }
        Command::Man(args) => man_page(command, args.command.as_deref()),
        Command::Merge(args) => merge_cmd::execute(&args),
        Command::Report(args) => report_cmd::execute(&args),
    }
}

/// The last `--color WHEN` / `--color=WHEN` before a `--`, as clap would read it; Auto if none
/// or not a valid WHEN (clap then reports it).
fn color_choice_in(args: &[OsString]) -> ColorChoice {
    let mut choice = ColorChoice::Auto;
    let mut iter = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(arg) = iter.next() {
        let value = match arg.as_ref() {
            "--" => break,
            "--color" => iter.next().map(|v| v.into_owned()),
            other => other.strip_prefix("--color=").map(str::to_string),
        };
        match value.as_deref() {
            Some("always") => choice = ColorChoice::Always,
            Some("never") => choice = ColorChoice::Never,
            Some("auto") => choice = ColorChoice::Auto,
            _ => {}
        }
    }
    choice
}

/// Whether to colour a stream: `always` and `never` decide; `auto` colours a terminal unless
/// NO_COLOR is set to a non-empty value (<https://no-color.org>).
pub fn color_enabled(choice: ColorChoice, is_terminal: bool, no_color: Option<OsString>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => is_terminal && no_color.map_or(true, |v| v.is_empty()),
    }
}

/// Prints graypipe(1), or graypipe-COMMAND(1), as roff.
fn man_page(mut command: clap::Command, sub: Option<&str>) -> i32 {
    command.build();
    let page = match sub {
        None => command,
        Some(name) => match command.find_subcommand(name) {
            // build() named it graypipe-COMMAND (its display name), which the page title uses.
            Some(c) => c.clone().version(env!("CARGO_PKG_VERSION")),
            None => {
                output::stderr_line(&format!("graypipe: man: no command '{name}'"));
                return EXIT_USAGE;
            }
        },
    };
    let mut out = Vec::new();
    if let Err(e) = clap_mangen::Man::new(page).render(&mut out) {
        output::stderr_line(&format!("graypipe: man: {e}"));
        return EXIT_FAILED;
    }
    output::print_or_fail(&String::from_utf8_lossy(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn color_choice_is_read_in_both_spellings_and_stops_at_double_dash() {
        assert_eq!(
            color_choice_in(&args(&["g", "run", "--color", "never"])),
            ColorChoice::Never
        );
        assert_eq!(
            color_choice_in(&args(&["g", "--color=always", "run"])),
            ColorChoice::Always
        );
        assert_eq!(
            color_choice_in(&args(&["g", "run", "--", "--color=always"])),
            ColorChoice::Auto
        );
        assert_eq!(
            color_choice_in(&args(&["g", "--color", "pink"])),
            ColorChoice::Auto
        );
    }

    #[test]
    fn no_color_turns_auto_off_but_not_always() {
        let set = Some(OsString::from("1"));
        assert!(color_enabled(ColorChoice::Auto, true, None));
        assert!(!color_enabled(ColorChoice::Auto, true, set.clone()));
        assert!(color_enabled(
            ColorChoice::Auto,
            true,
            Some(OsString::new())
        ));
        assert!(!color_enabled(ColorChoice::Auto, false, None));
        assert!(color_enabled(ColorChoice::Always, false, set));
        assert!(!color_enabled(ColorChoice::Never, true, None));
    }
}
