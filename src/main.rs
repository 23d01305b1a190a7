//! The `graypipe` command: see `graypipe --help`.

fn main() {
    std::process::exit(graypipe::cli::main());
}
