//! Runtime CPU dispatch: one portable binary that runs a kernel's AVX2 build where the CPU has
//! AVX2 and the baseline build elsewhere (no `target-cpu=native`).

/// Defines `pub(crate) fn $name(args) -> ret` that calls `$imp(args)`, compiled with AVX2
/// enabled when the running CPU supports it. `$imp` must be `#[inline(always)]` so that its
/// body is compiled (and vectorised) inside each copy.
macro_rules! avx2_dispatch {
    ($(#[$m:meta])* fn $name:ident($($a:ident: $t:ty),* $(,)?) $(-> $r:ty)? => $imp:path) => {
        $(#[$m])*
        pub(crate) fn $name($($a: $t),*) $(-> $r)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn with_avx2($($a: $t),*) $(-> $r)? {
                    $imp($($a),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: AVX2 is present on this CPU, checked just above.
                    return unsafe { with_avx2($($a),*) };
                }
            }
            $imp($($a),*)
        }
    };
}

pub(crate) use avx2_dispatch;
