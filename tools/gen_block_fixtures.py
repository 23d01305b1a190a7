#!/usr/bin/env python3
"""Generates OpenCV fixtures for adaptive thresholds with huge blocks on small pictures.

Blocks of several thousand pixels (up to graypipe's maximum, 32767) on pictures far smaller
than the block: the replicated border then dominates the window, and the mean's window sum
passes 2^32 (255 x 4105^2 > 2^32), which a 32-bit accumulator gets wrong. Same layout as
tools/gen_fixtures.py: tests/fixtures/opencv_blocks/{inputs,expected,manifest.json}, read by
tests/opencv_exact.rs.

    pip install opencv-python-headless numpy
    python3 tools/gen_block_fixtures.py
"""
import json
import os
import sys

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'opencv_blocks')

BLOCKS = [4103, 4105, 5001, 9999, 16383, 32767]
OPS = []
for b in BLOCKS:
    OPS += [(f'adaptive-mean:{b}:0', 255), (f'adaptive-mean:{b}:2', 255),
            (f'adaptive-mean-inv:{b}:-1.5', 255), (f'adaptive-gaussian:{b}:0', 255),
            (f'adaptive-gaussian-inv:{b}:1', 200)]


def apply(spec, maxval, g):
    name, block, c = spec.split(':')
    method = cv2.ADAPTIVE_THRESH_MEAN_C if 'mean' in name else cv2.ADAPTIVE_THRESH_GAUSSIAN_C
    kind = cv2.THRESH_BINARY_INV if name.endswith('-inv') else cv2.THRESH_BINARY
    return cv2.adaptiveThreshold(g, maxval, method, kind, int(block), float(c))


def make_inputs(d):
    rng = np.random.default_rng(20261123)
    files = {
        # Near white: the window sum is close to 255 x block^2.
        'near_white_37x23.png': rng.integers(240, 256, (23, 37), dtype=np.uint8),
        'white_edge_29x17.png': np.pad(rng.integers(0, 256, (15, 27), dtype=np.uint8), 1,
                                       constant_values=255),
        'noise_40x31.png': rng.integers(0, 256, (31, 40), dtype=np.uint8),
        'gradient_64x48.png': (np.add.outer(np.arange(48) * 3, np.arange(64) * 2) % 256).astype(np.uint8),
        'px_1x1.png': np.array([[250]], np.uint8),
        'row_53x1.png': rng.integers(200, 256, (1, 53), dtype=np.uint8),
        'col_1x53.png': rng.integers(0, 256, (53, 1), dtype=np.uint8),
    }
    for name, img in files.items():
        cv2.imwrite(os.path.join(d, name), img)
    return sorted(files)


def main():
    inputs_dir = os.path.join(OUT, 'inputs')
    expected_dir = os.path.join(OUT, 'expected')
    os.makedirs(inputs_dir, exist_ok=True)
    os.makedirs(expected_dir, exist_ok=True)
    names = make_inputs(inputs_dir)
    manifest = {'opencv_version': cv2.__version__, 'ops': [{'spec': s, 'maxval': m} for s, m in OPS],
                'inputs': []}
    for name in names:
        img = cv2.imread(os.path.join(inputs_dir, name))
        if img is None:
            sys.exit(f'OpenCV cannot read {name}')
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        stacked = np.vstack([apply(s, m, g) for s, m in OPS])
        out = os.path.splitext(name)[0] + '__png.png'
        cv2.imwrite(os.path.join(expected_dir, out), stacked)
        manifest['inputs'].append({'file': name, 'expected': out, 'width': g.shape[1], 'height': g.shape[0]})
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    print(f'{len(names)} inputs x {len(OPS)} operations written under {OUT}')


if __name__ == '__main__':
    main()
