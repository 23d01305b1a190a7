#!/usr/bin/env python3
"""Generates the OpenCV fixtures for JPEG decoding and for both read modes, used by
tests/read_modes.rs.

Writes small JPEGs made by OpenCV's own encoder (every chroma sampling OpenCV writes: 4:2:0,
4:2:2, 4:4:4, 4:1:1, 4:4:0; progressive; optimised Huffman tables; grayscale; restart markers;
odd sizes down to 1x1; one whose scan is cut short but still ends with an end marker, which
libjpeg reads with a warning), an Adobe CMYK JPEG (Pillow: OpenCV writes no CMYK), a lossless
WebP, a GIF, PNGs with gAMA/sRGB/sBIT chunks (libpng's linear-light gray) and random-colour
BMP/PNM/TIFF files (imgcodecs' 14-bit gray weights; 32-bit BMPs with and without bit-field
masks), to tests/fixtures/read_modes/inputs/. Then, for every one of those and for
every input of the other fixture sets (tests/fixtures/opencv/inputs, tests/fixtures/odd), it
stores OpenCV's results, stacked vertically, one PNG per input and read mode:
  NAME.color.png  cv2.imread(path)                       -> cvtColor(BGR2GRAY) -> each of OPS
  NAME.gray.png   cv2.imread(path, cv2.IMREAD_GRAYSCALE) ->                       each of OPS
with manifest.json listing them (paths relative to tests/fixtures).

    pip install opencv-python-headless pillow numpy
    python3 tools/gen_read_fixtures.py

`cargo test` reads the committed outputs and never needs Python.
"""
import json
import os
import struct
import sys
import zlib

import cv2
import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, 'tests', 'fixtures')
OUT = os.path.join(FIXTURES, 'read_modes')
SAMPLES = os.path.join(ROOT, 'sample_images', 'photos')

# One of each threshold family (the threshold kernels themselves are covered in depth by
# tests/opencv_exact.rs; here the point is the decoded gray picture under each of them).
OPS = [('gray', 255), ('binary:127', 255), ('binary-inv:127', 255), ('trunc:127', 255),
       ('tozero:127', 255), ('tozero-inv:127', 255), ('binary:otsu', 255), ('binary:triangle', 255),
       ('adaptive-mean:11:2', 255), ('adaptive-gaussian:11:2', 255), ('adaptive-gaussian-inv:5:1.5', 255)]

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


def photo(y, x, h, w):
    return cv2.imread(os.path.join(SAMPLES, 'astronaut.png'))[y:y + h, x:x + w].copy()


def png_with_chunks(png, chunks):
    """Inserts ancillary chunks (type, data) right after a PNG's IHDR."""
    ihdr_end = 8 + 8 + 13 + 4
    extra = b''.join(struct.pack('>I', len(data)) + kind + data +
                     struct.pack('>I', zlib.crc32(kind + data) & 0xFFFFFFFF) for kind, data in chunks)
    return png[:ihdr_end] + extra + png[ihdr_end:]


def make_inputs(d):
    """Writes the new inputs; returns their names."""
    names = []

    def jpg(name, img, *params):
        cv2.imwrite(os.path.join(d, name), img, [cv2.IMWRITE_JPEG_QUALITY, 90, *params])
        names.append(name)

    bgr = photo(120, 160, 48, 64)
    s = cv2.IMWRITE_JPEG_SAMPLING_FACTOR
    jpg('sampling_420.jpg', bgr, s, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420)
    jpg('sampling_422.jpg', bgr, s, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422)
    jpg('sampling_444.jpg', bgr, s, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)
    jpg('sampling_411.jpg', bgr, s, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411)
    jpg('sampling_440.jpg', bgr, s, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_440)
    jpg('progressive_420.jpg', bgr, cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
    jpg('progressive_444.jpg', bgr, cv2.IMWRITE_JPEG_PROGRESSIVE, 1, s, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)
    jpg('optimized_420.jpg', bgr, cv2.IMWRITE_JPEG_OPTIMIZE, 1)
    jpg('restart_420.jpg', bgr, cv2.IMWRITE_JPEG_RST_INTERVAL, 1)
    jpg('gray.jpg', cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    jpg('gray_progressive.jpg', cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
    jpg('odd_37x23_420.jpg', photo(200, 200, 23, 37))
    jpg('odd_33x17_411.jpg', photo(210, 190, 17, 33), s, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411)
    jpg('odd_19x29_440.jpg', photo(150, 230, 29, 19), s, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_440)
    jpg('odd_1x1.jpg', photo(220, 220, 1, 1))
    jpg('odd_1x9_422.jpg', photo(220, 220, 9, 1), s, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422)
    jpg('photo_160x120_420.jpg', photo(60, 140, 120, 160))
    # Adobe CMYK (inverted, with an APP14 marker), as Photoshop writes it.
    rgb = Image.fromarray(cv2.cvtColor(photo(140, 170, 21, 33), cv2.COLOR_BGR2RGB))
    rgb.convert('CMYK').save(os.path.join(d, 'cmyk_33x21.jpg'), quality=90)
    names.append('cmyk_33x21.jpg')
    # The scan cut to half, then the end marker: libjpeg warns "premature end of data segment"
    # and fills the rest with grey; OpenCV returns that picture.
    whole = open(os.path.join(d, 'photo_160x120_420.jpg'), 'rb').read()
    sos = whole.index(b'\xff\xda')
    cut = whole[:sos + (len(whole) - sos) // 2] + b'\xff\xd9'
    with open(os.path.join(d, 'cut_scan.jpg'), 'wb') as f:
        f.write(cut)
    names.append('cut_scan.jpg')
    cv2.imwrite(os.path.join(d, 'lossless.webp'), bgr, [cv2.IMWRITE_WEBP_QUALITY, 101])
    names.append('lossless.webp')
    rgb.quantize(32).save(os.path.join(d, 'palette.gif'))
    names.append('palette.gif')
    # PNGs whose gamma makes libpng convert RGB to gray in linear light (IMREAD_GRAYSCALE):
    # gAMA 1/2.2 and 1/1.8 at 8 bits, gAMA at 16 bits (with and without sBIT), sRGB on a
    # palette file, and a gAMA within 5% of 1.0, which libpng ignores.
    big = photo(40, 40, 96, 128)
    big16 = (big.astype(np.uint16) * 257) ^ np.uint16(0x5A)  # low bytes not a copy of the high
    gama = lambda g: (b'gAMA', struct.pack('>I', g))
    for name, img, chunks in [('gamma45455_rgb.png', big, [gama(45455)]),
                              ('gamma55556_rgba.png', cv2.cvtColor(big, cv2.COLOR_BGR2BGRA), [gama(55556)]),
                              ('gamma96000_rgb.png', big, [gama(96000)]),
                              ('gamma45455_rgb16.png', big16, [gama(45455)]),
                              ('gamma45455_sbit10_rgb16.png', big16, [gama(45455), (b'sBIT', bytes([10, 10, 10]))])]:
        with open(os.path.join(d, name), 'wb') as f:
            f.write(png_with_chunks(cv2.imencode('.png', img)[1].tobytes(), chunks))
        names.append(name)
    pal = os.path.join(d, 'srgb_palette.png')
    Image.fromarray(cv2.cvtColor(big, cv2.COLOR_BGR2RGB)).quantize(64).save(pal)
    with open(pal, 'rb') as f:
        data = png_with_chunks(f.read(), [(b'sRGB', b'\x00')])
    with open(pal, 'wb') as f:
        f.write(data)
    names.append('srgb_palette.png')
    # BMP, PNM and TIFF gray reads use imgcodecs' 14-bit weights, not cvtColor's: a picture
    # of random colours, enough of which are ones where the two differ (about 1%).
    noise = np.random.default_rng(11).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    noise16 = np.random.default_rng(12).integers(0, 65536, (48, 64, 3), dtype=np.uint16)
    for ext in ('bmp', 'ppm', 'tif'):
        cv2.imwrite(os.path.join(d, f'weights_rgb.{ext}'), noise)
        names.append(f'weights_rgb.{ext}')
    cv2.imwrite(os.path.join(d, 'weights_rgb16.tif'), noise16)
    names.append('weights_rgb16.tif')
    cv2.imwrite(os.path.join(d, 'weights_rgb16.ppm'), noise16)
    names.append('weights_rgb16.ppm')
    # 32-bit BMPs: with bit-field masks and alpha (as OpenCV writes BGRA), whose gray read is
    # OpenCV 5's f32 sum, truncated; and plain BI_RGB (no masks, a 40-byte header), the 14-bit
    # weights again.
    alpha = np.random.default_rng(13).integers(0, 256, (48, 64, 1), dtype=np.uint8)
    cv2.imwrite(os.path.join(d, 'bitfields_bgra.bmp'), np.dstack([noise, alpha]))
    names.append('bitfields_bgra.bmp')
    rows = np.dstack([noise, alpha])[::-1].tobytes()
    header = struct.pack('<IiiHHIIiiII', 40, 64, 48, 1, 32, 0, len(rows), 0, 0, 0, 0)
    with open(os.path.join(d, 'bi_rgb32.bmp'), 'wb') as f:
        f.write(b'BM' + struct.pack('<IHHI', 14 + 40 + len(rows), 0, 0, 54) + header + rows)
    names.append('bi_rgb32.bmp')
    return [os.path.join('read_modes', 'inputs', n) for n in names]


def main():
    inputs_dir = os.path.join(OUT, 'inputs')
    expected_dir = os.path.join(OUT, 'expected')
    os.makedirs(inputs_dir, exist_ok=True)
    os.makedirs(expected_dir, exist_ok=True)
    rels = make_inputs(inputs_dir)
    for sub in ('opencv/inputs', 'odd'):
        for n in sorted(os.listdir(os.path.join(FIXTURES, sub))):
            if not n.endswith('.opencv.png'):
                rels.append(os.path.join(sub, n))
    manifest = {'opencv_version': cv2.__version__, 'ops': [{'spec': s, 'maxval': m} for s, m in OPS],
                'inputs': []}
    for rel in rels:
        path = os.path.join(FIXTURES, rel)
        color = cv2.imread(path)
        gray = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        if color is None or gray is None:
            print(f'OpenCV cannot read {rel}: left out', file=sys.stderr)
            continue
        entry = {'file': rel, 'width': gray.shape[1], 'height': gray.shape[0]}
        stem = rel.replace('/', '__')
        for mode, g in (('color', cv2.cvtColor(color, cv2.COLOR_BGR2GRAY)), ('gray', gray)):
            out = f'{stem}.{mode}.png'
            cv2.imwrite(os.path.join(expected_dir, out), np.vstack([apply(s, m, g) for s, m in OPS]))
            entry[mode] = out
        manifest['inputs'].append(entry)
    with open(os.path.join(OUT, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=1)
    print(f'{len(manifest["inputs"])} inputs x 2 read modes x {len(OPS)} operations under {OUT}')


if __name__ == '__main__':
    main()
