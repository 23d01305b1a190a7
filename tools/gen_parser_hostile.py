#!/usr/bin/env python3
"""Crafted hostile files for graypipe's own parsers (PNM, RLE BMP, TIFF palette and directory,
GIF background) and what cv2.imread makes of each: tests/fixtures/hostile/parsers/*, with
expected.json holding, per file, "refused" or OpenCV's [height, width] and the sum of its BGR
samples. tests/hostile.rs (`crafted_parser_files_are_read_or_refused_as_opencv_does`) decodes
each and compares. Every file is small; see docs/hostile-cases.md for the cases.

    pip install opencv-python-headless numpy
    python3 tools/gen_parser_hostile.py
"""
import json
import os
import struct

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INPUTS = os.path.join(ROOT, "tests", "fixtures", "read_modes", "inputs")
OUT = os.path.join(ROOT, "tests", "fixtures", "hostile", "parsers")


def rle(w, h, bpp, runs, clr_used=4):
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, bpp, 1 if bpp == 8 else 2, 0, 0, 0,
                       clr_used, 0)
    pal = bytes([0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0])
    off = 14 + len(info) + len(pal)
    return b"BM" + struct.pack("<IiI", off + len(runs), 0, off) + info + pal + bytes(runs)


def tiff_entries(data):
    """(offset of each 12-byte entry, tag) of a little-endian TIFF's first directory."""
    at = struct.unpack("<I", data[4:8])[0]
    n = struct.unpack("<H", data[at:at + 2])[0]
    return [(at + 2 + 12 * k, struct.unpack("<H", data[at + 2 + 12 * k:at + 4 + 12 * k])[0])
            for k in range(n)]


def set_entry_value(data, tag, value, count=None):
    data = bytearray(data)
    for at, t in tiff_entries(data):
        if t == tag:
            if count is not None:
                data[at + 4:at + 8] = struct.pack("<I", count)
            data[at + 8:at + 12] = struct.pack("<I", value)
    return bytes(data)


def retag(data, tag, new_tag):
    data = bytearray(data)
    for at, t in tiff_entries(data):
        if t == tag:
            data[at:at + 2] = struct.pack("<H", new_tag)
    return bytes(data)


def self_patching_palette(chains):
    # Every Photometric entry (SHORT, count 3) points at its own type field, which holds 3:
    # patching the first one's value to 1 makes it a BYTE entry and the next one is found.
    entries = chains + 2
    map_at = 8 + 2 + 12 * entries + 4
    out = b"II*\0" + struct.pack("<IH", 8, entries)
    for k in range(chains):
        out += struct.pack("<HHII", 262, 3, 3, 8 + 2 + 12 * k + 2)
    out += struct.pack("<HHII", 258, 3, 1, 8)
    out += struct.pack("<HHII", 320, 3, 768, map_at)
    return out + b"\0" * (4 + 768 * 2)


def cases():
    pal = open(os.path.join(INPUTS, "tif_hand_palette8_21x9.tif"), "rb").read()
    gray = open(os.path.join(INPUTS, "tif_tf_gray_minisblack_37x23.tif"), "rb").read()
    gif = open(os.path.join(INPUTS, "gif_hand_bg_index_5.gif"), "rb").read()
    return {
        # TIFF
        "tiff_palette_self_patching_50.tif": self_patching_palette(50),
        "tiff_palette_colormap_past_end.tif": set_entry_value(pal, 320, 0xFFFFFF00),
        "tiff_palette_colormap_missing.tif": retag(pal, 320, 65000),
        "tiff_palette_colormap_at_last_bytes.tif": set_entry_value(pal, 320, len(pal) - 100),
        "tiff_palette_photometric_in_ifd_offset.tif": set_entry_value(pal, 262, 4, 3),
        "tiff_palette_huge_size_tiny_strip.tif": set_entry_value(
            set_entry_value(pal, 256, 16384), 257, 16384),
        "tiff_palette_strip_past_end.tif": set_entry_value(pal, 273, 0xFFFFFFF0),
        "tiff_ifd_points_at_itself_65535_entries.tif": b"II*\0" + struct.pack("<IH", 4, 65535),
        "tiff_photometric_count_2_23.tif": set_entry_value(gray, 262, 1, 1 << 23),
        "tiff_software_tag_past_end.tif": set_entry_value(gray, 305, 234, 1 << 23),
        "tiff_ifd_offset_past_end.tif": b"II*\0" + struct.pack("<I", 0xFFFFFFF0) + b"\0" * 8,
        # RLE BMP
        "rle8_delta_past_the_end.bmp": rle(3, 2, 8, [0, 2, 255, 255, 1, 1, 0, 1]),
        "rle8_delta_dy_only.bmp": rle(3, 2, 8, [0, 2, 0, 200, 0, 1]),
        "rle8_huge_size_two_bytes.bmp": rle(16384, 16384, 8, [1, 1]),
        "rle4_end_of_bitmap_first.bmp": rle(64, 64, 4, [0, 1]),
        "rle8_absolute_past_row.bmp": rle(3, 2, 8, [0, 4, 1, 1, 1, 1, 0, 1]),
        "rle8_absolute_cut.bmp": rle(3, 2, 8, [0, 3, 1]),
        "rle4_absolute_odd.bmp": rle(3, 2, 4, [0, 3, 0x12, 0x30, 0, 0, 0, 1]),
        "rle8_topdown.bmp": rle(3, -2, 8, [0, 2, 255, 255, 0, 1]),
        "rle8_palette_past_file.bmp": rle(3, 2, 8, [0, 1], clr_used=256)[:70],
        "rle8_zero_runs_only.bmp": rle(3, 2, 8, [0, 2] * 3 + [0, 1]),
        # PNM
        "pnm_p4_x_separators.pbm": b"P4 16x2x" + b"\xa5" * 4,
        "pnm_p5_width_2147483647.pgm": b"P5 2147483647 1 255 \0",
        "pnm_p5_width_2147483648.pgm": b"P5 2147483648 1 255 \0",
        "pnm_p2_sample_overflow.pgm": b"P2 1 1 255 99999999999 ",
        "pnm_p3_comment_to_eof.ppm": b"P3 1 1 255 1 2 # 3",
        "pnm_p1_digits_no_space.pbm": b"P1 4 2 01101001",
        "pnm_p6_maxval_65536.ppm": b"P6 1 1 65536 \0\0\0\0\0\0",
        "pnm_p5_no_data.pgm": b"P5 1 1 255",
        # GIF: the header only, global table announced but cut away; background past the table.
        "gif_header_only.gif": gif[:13],
        "gif_background_255_small_table.gif": gif[:11] + bytes([255]) + gif[12:],
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    for name, data in sorted(cases().items()):
        path = os.path.join(OUT, name)
        with open(path, "wb") as f:
            f.write(data)
        try:
            img = cv2.imread(path, cv2.IMREAD_COLOR)
        except cv2.error:
            img = None
        if img is None:
            expected[name] = "refused"
        else:
            expected[name] = {"size": [int(img.shape[0]), int(img.shape[1])],
                              "sum": int(img.astype(np.uint64).sum())}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    for k, v in expected.items():
        print(k, v)


if __name__ == "__main__":
    main()
