//! A decoded image as `cv2.imread(path)` (`IMREAD_COLOR`) hands it back: three samples per
//! pixel in blue, green, red order, gray replicated and alpha dropped. The batch pipeline goes
//! straight to gray and never needs this; the Python bindings' `imread` does.

use super::DecodedImage;
use crate::ops::ChannelLayout;

impl DecodedImage {
    /// The pixels as `width * height * 3` BGR samples, row by row.
    pub fn to_bgr(&self) -> Vec<u8> {
        let channels = self.layout.channels();
        let mut out = Vec::with_capacity(self.data.len() / channels * 3);
        for p in self.data.chunks_exact(channels) {
            match self.layout {
                ChannelLayout::Gray | ChannelLayout::GrayAlpha => out.extend_from_slice(&[p[0]; 3]),
                ChannelLayout::Rgb | ChannelLayout::Rgba => {
                    out.extend_from_slice(&[p[2], p[1], p[0]])
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(layout: ChannelLayout, data: Vec<u8>) -> DecodedImage {
        DecodedImage {
            width: 2,
            height: 1,
            layout,
            data,
            warnings: Vec::new(),
        }
    }

    #[test]
    fn every_layout_becomes_three_bgr_samples() {
        let cases = [
            (ChannelLayout::Gray, vec![7, 9], vec![7, 7, 7, 9, 9, 9]),
            (
                ChannelLayout::GrayAlpha,
                vec![7, 0, 9, 255],
                vec![7, 7, 7, 9, 9, 9],
            ),
            (
                ChannelLayout::Rgb,
                vec![1, 2, 3, 4, 5, 6],
                vec![3, 2, 1, 6, 5, 4],
            ),
            (
                ChannelLayout::Rgba,
                vec![1, 2, 3, 0, 4, 5, 6, 99],
                vec![3, 2, 1, 6, 5, 4],
            ),
        ];
        for (layout, data, want) in cases {
            assert_eq!(image(layout, data).to_bgr(), want, "{layout:?}");
        }
    }
}
