//! `graypipe amdahl --parallel-fraction P`: Amdahl's table for a parallel fraction, as text.

use std::fmt::Write;

use crate::sweep::amdahl::{amdahl_speedup, ceiling};

fn fmt_ceiling(p: f64) -> String {
    let c = ceiling(p);
    if c.is_finite() {
        format!("{c:.2}x")
    } else {
        "unbounded".into()
    }
}

/// Amdahl's table for parallel fraction `p`, as chapter 2 of the book computes it.
pub fn amdahl_theory_text(p: f64, workers: &[usize]) -> String {
    let mut s =
        format!("Amdahl's law, parallel fraction P = {p}: speedup = 1 / ((1 - P) + P / n)\n\n");
    let _ = writeln!(
        s,
        "{:>8}  {:>8}  {:>10}",
        "workers", "speedup", "efficiency"
    );
    for &n in workers {
        let sp = amdahl_speedup(p, n as f64);
        let _ = writeln!(s, "{n:>8}  {sp:>8.3}  {:>9.1}%", sp / n as f64 * 100.0);
    }
    let _ = writeln!(
        s,
        "\nceiling (n -> infinity): 1 / (1 - P) = {}",
        fmt_ceiling(p)
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theory_table_matches_the_book_formula() {
        let t = amdahl_theory_text(0.95, &[1, 2, 64]);
        assert!(t.contains("       1     1.000"), "{t}");
        assert!(t.contains("       2     1.905"), "{t}");
        assert!(t.contains("      64    15.422"), "{t}");
        assert!(t.contains("= 20.00x"), "{t}");
        assert!(amdahl_theory_text(1.0, &[4]).contains("unbounded"));
    }
}
