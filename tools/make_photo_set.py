#!/usr/bin/env python3
"""Builds the benchmark photo folder: COUNT JPEG photos of about 2 megapixels (1632 x 1224),
made from the real pictures in sample_images/ (random 4:3 crops, upscaled with Lanczos,
some mirrored, quality 90). Deterministic: the same seed gives the same files.

    pip install opencv-python-headless numpy
    python3 tools/make_photo_set.py /tmp/photos100 100
"""
import glob
import os
import sys

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    sources = sorted(glob.glob(os.path.join(ROOT, 'sample_images', 'photos', '**', '*.*'), recursive=True))
    sources.append(os.path.join(ROOT, 'sample_images', 'book', 'ship.jpg'))
    pictures = [cv2.imread(p) for p in sources if p.endswith(('.png', '.jpg'))]
    pictures = [p for p in pictures if p is not None]
    rng = np.random.default_rng(8)
    os.makedirs(out, exist_ok=True)
    for i in range(count):
        img = pictures[i % len(pictures)]
        h, w = img.shape[:2]
        scale = rng.uniform(0.6, 1.0)
        ch = int(min(h, w * 3 / 4) * scale)
        cw = ch * 4 // 3
        y = rng.integers(0, h - ch + 1)
        x = rng.integers(0, w - cw + 1)
        crop = cv2.resize(img[y:y + ch, x:x + cw], (1632, 1224), interpolation=cv2.INTER_LANCZOS4)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        cv2.imwrite(os.path.join(out, f'photo_{i:03d}.jpg'), crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f'{count} photos of 1632 x 1224 in {out}')


if __name__ == '__main__':
    main()
