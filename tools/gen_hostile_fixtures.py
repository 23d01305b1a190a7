#!/usr/bin/env python3
"""Generates damaged-but-readable inputs for tests/hardening.rs and what OpenCV reads from them.

rst_garbage.jpg: a 128 x 48 JPEG (4:2:0, restart marker after every MCU, so 23 restart markers)
with 5 junk bytes before each restart marker. libjpeg skips them and warns "Corrupt JPEG data:
N extraneous bytes before marker 0xdN": 19 warnings for the 115 junk bytes (libjpeg-turbo's
fast Huffman path sees some markers early and reports their junk with a later one: 17 warnings
of 5 bytes, one of 20 and one of 10; listed once with every text kept). The pixels are unharmed;
OpenCV's imread -> BGR2GRAY of it is stored as rst_garbage.jpg.opencv.png.

    pip install opencv-python-headless numpy
    python3 tools/gen_hostile_fixtures.py
"""
import os

import cv2

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


if __name__ == '__main__':
    main()
