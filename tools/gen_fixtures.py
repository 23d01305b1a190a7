#!/usr/bin/env python3
"""Generates the OpenCV reference fixtures used by tests/opencv_exact.rs.

Writes small lossless inputs in every layout graypipe reads (PNG 8/16-bit gray/RGB/RGBA/palette,
low bit depths, BMP, TIFF, PNM) to tests/fixtures/opencv/inputs/, runs OpenCV on each
(imread -> cvtColor BGR2GRAY -> every operation in OPS), and stores the results stacked
vertically, one PNG per input, in tests/fixtures/opencv/expected/, with manifest.json.

    pip install opencv-python-headless pillow numpy
    python3 tools/gen_fixtures.py

`cargo test` reads the committed outputs and never needs Python.
"""
import json
import os
import sys

import cv2
import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'opencv')
SAMPLES = os.path.join(ROOT, 'sample_images', 'photos')

# (spec as graypipe parses it, maxval)
OPS = [('gray', 255)]
OPS += [(f'{t}:127', 255) for t in ('binary', 'binary-inv', 'trunc', 'tozero', 'tozero-inv')]
OPS += [('binary:127.5', 200.5), ('binary:99.9', 101.5), ('binary-inv:0', 255), ('trunc:254.9', 255)]
# out-of-range levels
OPS += [('binary:-1', 200), ('binary:255', 255), ('binary-inv:-0.5', 255), ('binary-inv:300', 77),
        ('trunc:-3', 255), ('trunc:255', 255), ('tozero:-3', 255), ('tozero:255', 255),
        ('tozero-inv:-0.5', 255), ('tozero-inv:256', 255)]
OPS += [(f'{t}:otsu', 255) for t in ('binary', 'binary-inv', 'trunc', 'tozero', 'tozero-inv')]
OPS += [(f'{t}:triangle', 255) for t in ('binary', 'binary-inv', 'trunc', 'tozero', 'tozero-inv')]
OPS += [('binary:otsu', 100)]
OPS += [('adaptive-mean:3:2', 255), ('adaptive-mean:11:2', 255), ('adaptive-mean:31:-3.5', 255),
        ('adaptive-mean-inv:11:2.5', 255), ('adaptive-mean:101:0', 255), ('adaptive-mean:5:0.5', 128)]
OPS += [('adaptive-gaussian:3:2', 255), ('adaptive-gaussian:5:2', 255), ('adaptive-gaussian:7:0', 255),
        ('adaptive-gaussian:9:2', 255), ('adaptive-gaussian:11:2', 255), ('adaptive-gaussian:13:-1.5', 255),
        ('adaptive-gaussian:31:2', 255), ('adaptive-gaussian-inv:11:2.5', 255),
        ('adaptive-gaussian:51:1', 255), ('adaptive-gaussian:11:2', 128.5)]

TYPES = {'binary': cv2.THRESH_BINARY, 'binary-inv': cv2.THRESH_BINARY_INV, 'trunc': cv2.THRESH_TRUNC,
         'tozero': cv2.THRESH_TOZERO, 'tozero-inv': cv2.THRESH_TOZERO_INV}


def apply(spec, maxval, g):
    parts = spec.split(':')
    if spec == 'gray':
        return g
    if parts[0].startswith('adaptive'):
        method = cv2.ADAPTIVE_THRESH_MEAN_C if 'mean' in parts[0] else cv2.ADAPTIVE_THRESH_GAUSSIAN_C
        kind = cv2.THRESH_BINARY_INV if parts[0].endswith('-inv') else cv2.THRESH_BINARY
        return cv2.adaptiveThreshold(g, maxval, method, kind, int(parts[1]), float(parts[2]))
    kind = TYPES[parts[0]]
    if parts[1] == 'otsu':
        return cv2.threshold(g, 0, maxval, kind | cv2.THRESH_OTSU)[1]
    if parts[1] == 'triangle':
        return cv2.threshold(g, 0, maxval, kind | cv2.THRESH_TRIANGLE)[1]
    return cv2.threshold(g, float(parts[1]), maxval, kind)[1]


def crop(path, y, x, h, w, flags=cv2.IMREAD_UNCHANGED):
    im = cv2.imread(os.path.join(SAMPLES, path), flags)
    return im[y:y + h, x:x + w].copy()


def make_inputs(d):
    rng = np.random.default_rng(20261121)
    rgb = crop('astronaut.png', 120, 180, 40, 48)              # BGR
    gray = crop('camera.png', 100, 200, 40, 48)
    rgba = crop('chelsea_alpha.png', 100, 150, 40, 48)         # BGRA
    rgb16 = crop('coffee_16bit.png', 150, 250, 40, 48)         # BGR 16-bit
    files = {}

    def cv(name, img, params=()):
        cv2.imwrite(os.path.join(d, name), img, list(params))
        files[name] = True

    def pil(name, img, **kw):
        img.save(os.path.join(d, name), **kw)
        files[name] = True

    cv('rgb8.png', rgb)
    cv('gray8.png', gray)
    cv('rgba8.png', rgba)
    cv('rgb16.png', rgb16)
    g16 = (gray.astype(np.uint16) << 8) | rng.integers(0, 256, gray.shape, dtype=np.uint16)
    cv('gray16.png', g16)
    a16 = rng.integers(0, 65536, rgb16.shape[:2], dtype=np.uint16)
    cv('rgba16.png', np.dstack([rgb16, a16]))
    rgb_pil = Image.fromarray(cv2.cvtColor(rgb, cv2.COLOR_BGR2RGB))
    pil('palette.png', rgb_pil.quantize(64))
    pal = rgb_pil.quantize(16)
    pal.info['transparency'] = 3
    pil('palette_trns.png', pal, transparency=3)
    pil('palette4bit.png', rgb_pil.quantize(16), bits=4)
    pil('gray_alpha.png', Image.fromarray(np.dstack([gray, rgba[:, :, 3]]), 'LA'))
    pil('gray1bit.png', Image.fromarray(gray).convert('1'))
    cv('rgb24.bmp', rgb)
    cv('gray8.bmp', gray)
    cv('rgb.tif', rgb)
    cv('gray.tif', gray)
    cv('rgb16.tif', rgb16)
    cv('rgb.ppm', rgb)
    cv('gray.pgm', gray)
    cv('gray16.pgm', g16)
    cv('noise_97x61.png', rng.integers(0, 256, (61, 97, 3), dtype=np.uint8))
    cv('px_1x1.png', np.array([[[10, 200, 30]]], np.uint8))
    cv('row_37x1.png', rng.integers(0, 256, (1, 37, 3), dtype=np.uint8))
    cv('col_1x37.png', rng.integers(0, 256, (37, 1), dtype=np.uint8))
    cv('small_7x5.png', rng.integers(0, 256, (5, 7, 3), dtype=np.uint8))
    cv('constant.png', np.full((9, 13), 90, np.uint8))
    dark = np.zeros((30, 40), np.uint8)
    dark[rng.random((30, 40)) < 0.15] = rng.integers(20, 250, 1)[0]
    dark[5:9, 5:30] = np.arange(25, dtype=np.uint8) * 9
    cv('mostly_dark.png', dark)
    bright = 255 - dark
    cv('mostly_bright.png', bright)
    ship = cv2.imread(os.path.join(ROOT, 'tests', 'fixtures', 'book', 'ship.png'))
    cv('ship_crop.png', ship[500:660, 700:900])
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
        img = cv2.imread(os.path.join(inputs_dir, name))  # default IMREAD_COLOR, as users call it
        if img is None:
            sys.exit(f'OpenCV cannot read {name}')
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        stacked = np.vstack([apply(s, m, g) for s, m in OPS])
        out = os.path.splitext(name)[0] + '__' + name.rsplit('.', 1)[1] + '.png'
        cv2.imwrite(os.path.join(expected_dir, out), stacked)
        manifest['inputs'].append({'file': name, 'expected': out, 'width': g.shape[1], 'height': g.shape[0]})
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    print(f'{len(names)} inputs x {len(OPS)} operations written under {OUT}')


if __name__ == '__main__':
    main()
