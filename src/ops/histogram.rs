//! 256-bin histogram of an 8-bit image, the input of Otsu and Triangle.

/// Counts each gray level of `data`.
pub fn histogram(data: &[u8]) -> [u64; 256] {
    // Four interleaved tables break the store-to-load dependency when neighbours are equal,
    // which is the common case in photographs.
    let mut tables = [[0u32; 256]; 4];
    let mut total = [0u64; 256];
    // Flush before a u32 bin could overflow.
    for block in data.chunks(1 << 30) {
        let mut quads = block.chunks_exact(4);
        for q in &mut quads {
            tables[0][q[0] as usize] += 1;
            tables[1][q[1] as usize] += 1;
            tables[2][q[2] as usize] += 1;
            tables[3][q[3] as usize] += 1;
        }
        for &v in quads.remainder() {
            tables[0][v as usize] += 1;
        }
        for t in &mut tables {
            for (sum, count) in total.iter_mut().zip(t.iter_mut()) {
                *sum += u64::from(*count);
                *count = 0;
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_sample_once() {
        let data: Vec<u8> = (0..1003u32).map(|i| (i * 7 % 256) as u8).collect();
        let h = histogram(&data);
        assert_eq!(h.iter().sum::<u64>(), 1003);
        for (v, &count) in h.iter().enumerate() {
            let expected = data.iter().filter(|&&x| x as usize == v).count() as u64;
            assert_eq!(count, expected, "bin {v}");
        }
    }
}
