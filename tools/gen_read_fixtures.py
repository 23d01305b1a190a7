#!/usr/bin/env python3
"""Generates the OpenCV fixtures for JPEG decoding and for both read modes, used by
tests/read_modes.rs.

Writes small JPEGs made by OpenCV's own encoder (every chroma sampling OpenCV writes: 4:2:0,
4:2:2, 4:4:4, 4:1:1, 4:4:0; progressive; optimised Huffman tables; grayscale; restart markers;
odd sizes down to 1x1; one whose scan is cut short but still ends with an end marker, which
libjpeg reads with a warning), an Adobe CMYK JPEG (Pillow: OpenCV writes no CMYK), a lossless
WebP, a GIF, PNGs with gAMA/sRGB/sBIT chunks (libpng's linear-light gray) and random-colour
BMP/PNM/TIFF files (imgcodecs' 14-bit gray weights; 32-bit BMPs with and without bit-field
masks), 16-bit BMPs (5-5-5, 5-6-5) and 32-bit BMPs with masks of other widths written by hand,
the BMP, PNM, TIFF and GIF variants of tools/diff_formats.py (palettes, RLE, OS/2 headers,
planes fields; every PNM maxval; TIFF alpha, palettes, 16-bit gray, CMYK, YCbCr subsampling
and positioning; GIF backgrounds, transparency and first frames outside the screen) and its
flat and stepped histograms (Otsu and Triangle ties), and
BMP, PNM and TIFF files OpenCV refuses (listed under "refused" in the manifest:
graypipe must refuse them too),
to tests/fixtures/read_modes/inputs/. Then, for every one of those and for
every input of the other fixture sets (tests/fixtures/opencv/inputs, tests/fixtures/odd), it
stores OpenCV's results, stacked vertically, one PNG per input and read mode:
  NAME.color.png  cv2.imread(path)                       -> cvtColor(BGR2GRAY) -> each of OPS
  NAME.gray.png   cv2.imread(path, cv2.IMREAD_GRAYSCALE) ->                       each of OPS
with manifest.json listing them (paths relative to tests/fixtures).

    pip install opencv-python-headless pillow numpy tifffile
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
       ('adaptive-mean:11:2', 255), ('adaptive-gaussian:11:2', 255), ('adaptive-gaussian-inv:5:1.5', 255),
       # Otsu and Triangle under the other threshold types (tied histograms among the inputs).
       ('binary-inv:otsu', 255), ('trunc:otsu', 255), ('tozero-inv:otsu', 255), ('tozero:triangle', 255)]

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
    names += bmp_16_32_bits(d)
    names += from_diff_formats(d)
    return [os.path.join('read_modes', 'inputs', n) for n in names]


# The variants of tools/diff_formats.py kept as fixtures: every BMP (palettes, RLE with
# skipped pixels, OS/2 headers, top-down), PNM (every maxval, ASCII and binary), TIFF (16-bit
# gray, alpha of every kind, 8-bit palettes, compressions, tiles, planes) and GIF (background,
# transparency, interlace, animations) it makes, but those graypipe is documented not to read
# as OpenCV does (docs/opencv-semantics.md). The ones OpenCV refuses go to the refused list.
KEPT_VARIANTS = ('bmp', 'pnm_', 'tif_', 'gif_', 'hist_')
# Known differences (tools/diff_formats.py KNOWN, docs/opencv-semantics.md).
NOT_EXACT = {'tif_ycbcr44_lzw_20x13.tif', 'tif_ycbcr44_raw_19x13.tif'}
# Written by from_diff_formats: variants OpenCV refuses in both read modes.
REFUSED_VARIANTS = []


def from_diff_formats(d):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import diff_formats
    v = {**diff_formats.bmp_variants(), **diff_formats.pnm_variants(), **diff_formats.tiff_variants(),
         **diff_formats.ycbcr_variants(), **diff_formats.gif_variants(), **diff_formats.histogram_variants()}
    names = []
    for name, data in sorted(v.items()):
        if not name.startswith(KEPT_VARIANTS) or name in NOT_EXACT:
            continue
        path = os.path.join(d, name)
        with open(path, 'wb') as f:
            f.write(data)
        color, gray = cv2.imread(path), cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        if color is None and gray is None:
            REFUSED_VARIANTS.append(os.path.join('read_modes', 'inputs', name))
        elif color is None or gray is None:
            sys.exit(f'OpenCV reads {name} in one read mode only')
        else:
            names.append(name)
    return names


def other_refused(d):
    """PNM and RLE BMP files cv2.imread refuses; graypipe must refuse them too."""
    files = {
        # The last ASCII number ends the file (OpenCV reads one byte past every number).
        'refused_pgm_ascii_ends_in_number.pgm': b'P2\n2 1\n255\n7 9',
        'refused_pgm_binary_short.pgm': b'P5\n2 1\n255\n\x07',
        'refused_pgm_minus_sign.pgm': b'P2\n2 1\n255\n7 -9\n',
        'refused_pgm_maxval_0.pgm': b'P5\n2 1\n0\n\x07\x09',
        'refused_pgm_no_space_after_magic.pgm': b'P5#\n2 1\n255\n\x07\x09',
    }
    pal = [(0, 0, 255), (0, 255, 0), (255, 0, 0), (255, 255, 255)]
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import diff_formats
    # A run past the row's end; runs ending before the last row; an RLE4 end of bitmap on a
    # row other than the last (OpenCV fills that row and reads on past the end).
    files['refused_bmp_rle8_run_past_row.bmp'] = diff_formats._rle_bmp(3, 2, 8, bytes([4, 1, 0, 1]), pal)
    files['refused_bmp_rle8_ends_early.bmp'] = diff_formats._rle_bmp(3, 2, 8, bytes([3, 1]), pal)
    files['refused_bmp_rle4_end_of_bitmap_early.bmp'] = diff_formats._rle_bmp(3, 2, 4, bytes([1, 0x10, 0, 1]), pal)
    for name, data in files.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)
    return [os.path.join('read_modes', 'inputs', n) for n in files]


def bmp_file(width, height, bpp, pixels, compression=0, hsize=40, masks=(0, 0, 0, 0), topdown=False,
             masks_after=None, gap=b''):
    """A 16- or 32-bit BMP written by hand: `pixels` (height x width values, top row first) as
    little-endian words, rows padded to 4 bytes, bottom-up unless `topdown`; a `hsize`-byte info
    header, longer ones holding the masks (red, green, blue, alpha) from byte 40; the masks
    written right after a 40-byte header for BI_BITFIELDS (or `masks_after`); `gap` bytes before
    the pixels."""
    step = bpp // 8
    pitch = (width * step + 3) & -4
    order = range(height) if topdown else range(height - 1, -1, -1)
    data = b''.join(b''.join(int(v).to_bytes(step, 'little') for v in pixels[y]).ljust(pitch, b'\0')
                    for y in order)
    info = struct.pack('<IiiHHIIiiII', hsize, width, -height if topdown else height, 1, bpp, compression,
                       len(data), 2835, 2835, 0, 0)
    if hsize > 40:
        info += (struct.pack('<4I', *masks) + bytes(hsize)).ljust(hsize - 40, b'\0')[:hsize - 40]
    if masks_after is None:
        masks_after = hsize == 40 and compression == 3
    after = struct.pack('<3I', *masks[:3]) if masks_after else b''
    offset = 14 + len(info) + len(after) + len(gap)
    return b'BM' + struct.pack('<IHHI', offset + len(data), 0, 0, offset) + info + after + gap + data


def bmp_16_32_bits(d):
    """16-bit BMPs (5-5-5 and 5-6-5, BI_RGB and BI_BITFIELDS) and 32-bit BMPs with bit-field
    masks of every width, which OpenCV reads with its own arithmetic (see src/codec/bmp.rs):
    random pixel words, odd widths (row padding), bottom-up and top-down. Returns their names."""
    rng = np.random.default_rng(16)
    w16 = lambda h, w: rng.integers(0, 1 << 16, (h, w))
    w32 = lambda h, w: rng.integers(0, 1 << 32, (h, w), dtype=np.uint64)
    m555, m565 = (0x7C00, 0x3E0, 0x1F, 0), (0xF800, 0x7E0, 0x1F, 0)
    files = {
        'bmp16_555_rgb_37x23.bmp': bmp_file(37, 23, 16, w16(23, 37)),
        'bmp16_555_rgb_topdown_33x17.bmp': bmp_file(33, 17, 16, w16(17, 33), topdown=True),
        'bmp16_555_bitfields_35x19.bmp': bmp_file(35, 19, 16, w16(19, 35), compression=3, masks=m555),
        'bmp16_565_bitfields_37x23.bmp': bmp_file(37, 23, 16, w16(23, 37), compression=3, masks=m565),
        'bmp16_565_bitfields_topdown_1x9.bmp': bmp_file(1, 9, 16, w16(9, 1), compression=3, masks=m565,
                                                        topdown=True),
        # Bytes between the masks and the pixels (the file header's offset says where they start).
        'bmp16_565_bitfields_gap_31x13.bmp': bmp_file(31, 13, 16, w16(13, 31), compression=3, masks=m565,
                                                      gap=b'\xAA' * 6),
        # 32 bits with masks in a header of 56 bytes or more: OpenCV's f32 scaling of each channel.
        'bmp32_masks_10_10_10_v5_37x23.bmp': bmp_file(37, 23, 32, w32(23, 37), compression=3, hsize=124,
                                                      masks=(0x3FF00000, 0xFFC00, 0x3FF, 0xC0000000)),
        'bmp32_masks_10_10_10_v4_64x48.bmp': bmp_file(64, 48, 32, w32(48, 64), compression=3, hsize=108,
                                                      masks=(0x3FF00000, 0xFFC00, 0x3FF, 0)),
        'bmp32_masks_5_6_5_v4_topdown_33x17.bmp': bmp_file(33, 17, 32, w32(17, 33), compression=3, hsize=108,
                                                           masks=m565, topdown=True),
        'bmp32_masks_12_12_8_v3_35x19.bmp': bmp_file(35, 19, 32, w32(19, 35), compression=3, hsize=56,
                                                     masks=(0xFFF00000, 0xFFF00, 0xFF, 0)),
        'bmp32_masks_16_8_8_v4_29x11.bmp': bmp_file(29, 11, 32, w32(11, 29), compression=3, hsize=108,
                                                    masks=(0xFFFF0000, 0xFF00, 0xFF, 0)),
        'bmp32_masks_rgba_order_v5_27x13.bmp': bmp_file(27, 13, 32, w32(13, 27), compression=3, hsize=124,
                                                        masks=(0xFF, 0xFF00, 0xFF0000, 0xFF000000)),
        # Masks with holes and 1-bit masks: the scale is 255 over the shifted mask all the same.
        'bmp32_masks_holes_v4_23x7.bmp': bmp_file(23, 7, 32, w32(7, 23), compression=3, hsize=108,
                                                  masks=(0x5, 0x50, 0x500, 0)),
        'bmp32_masks_1_bit_v4_21x5.bmp': bmp_file(21, 5, 32, w32(5, 21), compression=3, hsize=108,
                                                  masks=(0x1, 0x2, 0x4, 0)),
        'bmp32_masks_31_bits_v4_19x5.bmp': bmp_file(19, 5, 32, w32(5, 19), compression=3, hsize=108,
                                                    masks=(0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 0)),
        # 32-bit files whose masks OpenCV never reads (a 40- or 52-byte header; a zero colour
        # mask): the bytes are B, G, R, A. BI_RGB with a V4 header and the OS/2 core header too.
        'bmp32_bitfields_40_rgba_masks_ignored_31x13.bmp': bmp_file(31, 13, 32, w32(13, 31), compression=3,
                                                                    masks=(0xFF, 0xFF00, 0xFF0000, 0)),
        'bmp32_bitfields_52_masks_ignored_25x9.bmp': bmp_file(25, 9, 32, w32(9, 25), compression=3, hsize=52,
                                                              masks=(0x3FF00000, 0xFFC00, 0x3FF, 0)),
        'bmp32_zero_red_mask_v4_23x9.bmp': bmp_file(23, 9, 32, w32(9, 23), compression=3, hsize=108,
                                                    masks=(0, 0xFFC00, 0x3FF, 0)),
        'bmp32_rgb_v4_topdown_27x11.bmp': bmp_file(27, 11, 32, w32(11, 27), hsize=108, topdown=True),
    }
    core = w32(7, 13)
    rows = b''.join(b''.join(int(v).to_bytes(4, 'little') for v in core[y]) for y in range(6, -1, -1))
    files['bmp32_os2_core_13x7.bmp'] = (b'BM' + struct.pack('<IHHI', 26 + len(rows), 0, 0, 26) +
                                        struct.pack('<IHHHH', 12, 13, 7, 1, 32) + rows)
    for name, data in files.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)
    return list(files)


def bmp_refused(d):
    """16- and 32-bit BMPs that cv2.imread refuses (returns None) in both read modes; graypipe
    must refuse them too. Returns their names."""
    p16 = np.random.default_rng(17).integers(0, 1 << 16, (9, 11))
    p32 = np.random.default_rng(18).integers(0, 1 << 32, (9, 11), dtype=np.uint64)
    m565 = (0xF800, 0x7E0, 0x1F, 0)
    whole16 = bmp_file(11, 9, 16, p16)
    whole32 = bmp_file(11, 9, 32, p32, compression=3, hsize=108, masks=(0x3FF00000, 0xFFC00, 0x3FF, 0))
    negative_width = bytearray(whole16)
    negative_width[18:22] = struct.pack('<i', -11)
    files = {
        # Masks other than 5-5-5 and 5-6-5 at 16 bits.
        'refused_bmp16_masks_4_4_4.bmp': bmp_file(11, 9, 16, p16 & 0xFFF, compression=3, masks=(0xF00, 0xF0, 0xF, 0)),
        # At 16 bits OpenCV reads the masks from after the header: inside a V4/V5 header they are
        # not where it looks.
        'refused_bmp16_565_v4.bmp': bmp_file(11, 9, 16, p16, compression=3, hsize=108, masks=m565),
        'refused_bmp16_565_v5.bmp': bmp_file(11, 9, 16, p16, compression=3, hsize=124, masks=m565),
        # BI_ALPHABITFIELDS (6), RLE8 at 16 bits.
        'refused_bmp32_alphabitfields.bmp': bmp_file(11, 9, 32, p32, compression=6, hsize=108,
                                                     masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000)),
        'refused_bmp16_rle8.bmp': bmp_file(11, 9, 16, p16, compression=1),
        'refused_bmp16_negative_width.bmp': bytes(negative_width),
        # One byte of the last row's padding missing.
        'refused_bmp16_truncated.bmp': whole16[:-1],
        'refused_bmp32_truncated.bmp': whole32[:-3],
    }
    rows = b''.join(b''.join(int(v).to_bytes(2, 'little') for v in p16[y]).ljust(24, b'\0') for y in range(8, -1, -1))
    files['refused_bmp16_os2_core.bmp'] = (b'BM' + struct.pack('<IHHI', 26 + len(rows), 0, 0, 26) +
                                           struct.pack('<IHHHH', 12, 11, 9, 1, 16) + rows)
    for name, data in files.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)
    return [os.path.join('read_modes', 'inputs', n) for n in files]


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
                'inputs': [], 'refused': []}
    for rel in bmp_refused(inputs_dir) + other_refused(inputs_dir) + REFUSED_VARIANTS:
        path = os.path.join(FIXTURES, rel)
        if cv2.imread(path) is not None or cv2.imread(path, cv2.IMREAD_GRAYSCALE) is not None:
            sys.exit(f'OpenCV reads {rel}, meant as a file it refuses')
        manifest['refused'].append(rel)
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
    print(f'{len(manifest["inputs"])} inputs x 2 read modes x {len(OPS)} operations, '
          f'{len(manifest["refused"])} files OpenCV refuses, under {OUT}')


if __name__ == '__main__':
    main()
