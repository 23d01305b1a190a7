//! Warns when `nasm` is missing: libjpeg-turbo (built by `mozjpeg-sys`) then compiles without
//! its SIMD code. The pixels are the same either way, but JPEG decoding is about half as fast,
//! and a dependency's own build warnings are hidden by cargo, so the warning is given here.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PATH");
    if std::env::var_os("CARGO_FEATURE_LIBJPEG_TURBO").is_none() {
        return;
    }
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if arch != "x86_64" && arch != "x86" {
        return;
    }
    let found = Command::new("nasm")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        println!(
            "cargo:warning=nasm not found: JPEG decoding is built WITHOUT SIMD (same pixels, about \
             2x slower). Install it (Debian/Ubuntu: apt-get install nasm), then rebuild libjpeg-turbo: \
             cargo clean -p mozjpeg-sys && cargo build --release"
        );
    }
}
