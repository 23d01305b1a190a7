#!/usr/bin/env python3
"""Generates damaged-but-readable inputs for tests/hardening.rs and what OpenCV reads from them.

rst_garbage.jpg: a 128 x 48 JPEG (4:2:0, restart marker after every MCU, so 23 restart markers)
with 5 junk bytes before each restart marker. libjpeg skips them and warns "Corrupt JPEG data:
N extraneous bytes before marker 0xdN": 19 warnings for the 115 junk bytes (libjpeg-turbo's
fast Huffman path sees some markers early and reports their junk with a later one: 17 warnings
of 5 bytes, one of 20 and one of 10; listed once with every text kept). The pixels are unharmed;
OpenCV's imread -> BGR2GRAY of it is stored as rst_garbage.jpg.opencv.png.

adaptive_c.png and adaptive_c.json: a 50 x 40 gray picture and what cv2.adaptiveThreshold
gives with C far outside int (OpenCV rounds C to an int, and on x86-64 a value out of range
becomes INT_MIN, whose negation wraps: C = -3e9 acts as C = +3e9). Every such result is one
value everywhere; the JSON lists it per SPEC (block 5, maxval 255).

tiny_blocks.json: pictures of 1 x 1 to 300 x 1 pixels (the samples in the JSON) and
cv2.adaptiveThreshold's result on each for blocks from 3 to 32767 (far larger than the picture:
the replicated border is then almost the whole window).

    pip install opencv-python-headless numpy
    python3 tools/gen_hostile_fixtures.py
"""
import os

import json

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'hostile')
JUNK = b'\x12\x34\x56\x78\x9a'


def main():
    os.makedirs(OUT, exist_ok=True)
    bgr = cv2.imread(os.path.join(ROOT, 'sample_images', 'photos', 'astronaut.png'))[100:148, 100:228]
    ok, enc = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, 90,
                                        cv2.IMWRITE_JPEG_RST_INTERVAL, 1,
                                        cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                                        cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420])
    assert ok
    data = enc.tobytes()
    sos = data.index(b'\xff\xda')
    head, scan = data[:sos], data[sos:]
    out = bytearray()
    markers = 0
    i = 0
    while i < len(scan):
        # A restart marker (FF D0..D7) in the entropy-coded data: junk goes in front of it.
        if scan[i] == 0xFF and i + 1 < len(scan) and 0xD0 <= scan[i + 1] <= 0xD7:
            out += JUNK
            markers += 1
        out.append(scan[i])
        i += 1
    assert markers == 23, markers
    path = os.path.join(OUT, 'rst_garbage.jpg')
    with open(path, 'wb') as f:
        f.write(head + bytes(out))
    gray = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(path + '.opencv.png', gray)

    g = np.random.default_rng(1).integers(0, 256, (40, 50), dtype=np.uint8)
    cv2.imwrite(os.path.join(OUT, 'adaptive_c.png'), g)
    cases = []
    for mname, method in (('mean', cv2.ADAPTIVE_THRESH_MEAN_C), ('gaussian', cv2.ADAPTIVE_THRESH_GAUSSIAN_C)):
        for inv, ttype in (('', cv2.THRESH_BINARY), ('-inv', cv2.THRESH_BINARY_INV)):
            for c in ('-1e308', '-3e9', '-2147483648.5', '-2147483647.5', '2147483648.5', '3e9', '1e308'):
                out = cv2.adaptiveThreshold(g, 255, method, ttype, 5, float(c))
                values = np.unique(out)
                assert len(values) == 1, (mname, inv, c, values)
                cases.append({'spec': f'adaptive-{mname}{inv}:5:{c}', 'value': int(values[0])})
    tiny = []
    rng = np.random.default_rng(7)
    for (h, w) in ((1, 1), (1, 7), (7, 1), (2, 2), (3, 5), (1, 300), (300, 1)):
        g = rng.integers(0, 256, (h, w), dtype=np.uint8)
        results = []
        for spec, maxval in (('adaptive-mean:3:0', 255), ('adaptive-gaussian:5:2', 255),
                             ('adaptive-mean-inv:31:-7.5', 255), ('adaptive-gaussian-inv:999:0', 100),
                             ('adaptive-mean:32767:2', 255), ('adaptive-gaussian:32767:-7.5', 100)):
            kind, block, c = spec.split(':')
            method = cv2.ADAPTIVE_THRESH_MEAN_C if 'mean' in kind else cv2.ADAPTIVE_THRESH_GAUSSIAN_C
            ttype = cv2.THRESH_BINARY_INV if kind.endswith('-inv') else cv2.THRESH_BINARY
            out = cv2.adaptiveThreshold(g, maxval, method, ttype, int(block), float(c))
            results.append({'spec': spec, 'maxval': maxval, 'expected': out.flatten().tolist()})
        tiny.append({'width': w, 'height': h, 'samples': g.flatten().tolist(), 'results': results})
    with open(os.path.join(OUT, 'tiny_blocks.json'), 'w') as f:
        json.dump({'opencv': cv2.__version__, 'pictures': tiny}, f)
        f.write('\n')
    with open(os.path.join(OUT, 'adaptive_c.json'), 'w') as f:
        json.dump({'opencv': cv2.__version__, 'input': 'adaptive_c.png', 'cases': cases}, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main()
