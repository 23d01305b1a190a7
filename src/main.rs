//! The `graypipe` command: see `graypipe --help`.
//!
//! The command line lives in this binary, not in the library (oxipng's shape): `cli` parses
//! the arguments with clap and maps them onto the library's types, so the library builds and
//! is used (the Python package, other programs) without clap.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
