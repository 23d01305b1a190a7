//! What OpenCV's own GIF reader (`imgcodecs/src/grfmt_gif.cpp`) refuses before it draws the
//! first frame; the pixels themselves come from the `image` crate (`decode.rs`).

use super::decode::DecodeError;

fn refuse(reason: String) -> DecodeError {
    DecodeError::Corrupt {
        format: "GIF",
        reason,
    }
}

/// Refuses a GIF whose first frame is empty or does not lie wholly inside the logical screen:
/// OpenCV asserts `width > 0 && height > 0 && left + width <= m_width && top + height <=
/// m_height` on it and reads nothing (the `image` crate would crop it and read the rest).
/// A file whose blocks end before the first frame is left to the decoder's own error.
pub(crate) fn check_first_frame(bytes: &[u8]) -> Result<(), DecodeError> {
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let (Some(screen_w), Some(screen_h), Some(&flags)) = (u16_at(6), u16_at(8), bytes.get(10))
    else {
        return Ok(());
    };
    let mut at = 13;
    if flags & 0x80 != 0 {
        at += 3 << ((flags & 7) + 1);
    }
    // Extensions before the first image descriptor: introducer, label, then sub-blocks each
    // led by its length, up to an empty one.
    while bytes.get(at) == Some(&0x21) {
        at += 2;
        loop {
            let Some(&len) = bytes.get(at) else {
                return Ok(());
            };
            at += 1 + usize::from(len);
            if len == 0 {
                break;
            }
        }
    }
    if bytes.get(at) != Some(&0x2C) {
        return Ok(());
    }
    let (Some(left), Some(top), Some(width), Some(height)) = (
        u16_at(at + 1),
        u16_at(at + 3),
        u16_at(at + 5),
        u16_at(at + 7),
    ) else {
        return Ok(());
    };
    if width == 0 || height == 0 || left + width > screen_w || top + height > screen_h {
        return Err(refuse(format!(
            "the first frame ({width} x {height} at {left}, {top}) does not lie inside the \
             {screen_w} x {screen_h} logical screen (OpenCV refuses it)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A screen of `sw` x `sh` with a 2-entry global table, one extension, and a frame
    /// descriptor at (`left`, `top`) of `w` x `h` (no pixel data: not needed here).
    fn gif(sw: u16, sh: u16, left: u16, top: u16, w: u16, h: u16) -> Vec<u8> {
        let mut b = b"GIF89a".to_vec();
        for v in [sw, sh] {
            b.extend(v.to_le_bytes());
        }
        b.extend([0x80, 0, 0]);
        b.extend([0u8; 6]);
        b.extend([0x21, 0xF9, 4, 0, 0, 0, 0, 0]);
        b.push(0x2C);
        for v in [left, top, w, h] {
            b.extend(v.to_le_bytes());
        }
        b.push(0);
        b
    }

    #[test]
    fn frame_inside_the_screen_passes() {
        assert!(check_first_frame(&gif(21, 13, 4, 3, 9, 5)).is_ok());
        assert!(check_first_frame(&gif(21, 13, 12, 8, 9, 5)).is_ok());
        assert!(check_first_frame(&gif(21, 13, 0, 0, 21, 13)).is_ok());
    }

    #[test]
    fn frame_past_an_edge_or_empty_is_refused() {
        for (l, t, w, h) in [
            (13, 3, 9, 5),
            (4, 9, 9, 5),
            (0, 0, 22, 13),
            (25, 3, 9, 5),
            (0, 0, 0, 5),
        ] {
            let e = check_first_frame(&gif(21, 13, l, t, w, h)).unwrap_err();
            assert!(e.to_string().contains("logical screen"), "{e}");
        }
    }

    #[test]
    fn cut_files_are_left_to_the_decoder() {
        let g = gif(21, 13, 13, 3, 9, 5);
        for n in 0..g.len() - 8 {
            assert!(check_first_frame(&g[..n]).is_ok(), "{n}");
        }
    }
}
