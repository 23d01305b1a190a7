#!/usr/bin/env python3
"""Generates odd-but-valid inputs and what OpenCV reads from them, for tests/odd_inputs.rs:
CMYK JPEG, interlaced PNG, animated GIF (first frame), multi-page TIFF (first page), and a
JPEG with each of the 8 EXIF orientations. For each input, OpenCV's imread -> BGR2GRAY result
is stored as an 8-bit PNG beside it (`NAME.opencv.png`).

    pip install opencv-python-headless pillow numpy; apt-get install imagemagick
    python3 tools/gen_odd_fixtures.py
"""
import os
import subprocess

import cv2
import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, 'tests', 'fixtures', 'odd')


def photo(w, h, y=140, x=160):
    bgr = cv2.imread(os.path.join(ROOT, 'sample_images', 'photos', 'astronaut.png'))
    return bgr[y:y + h, x:x + w].copy()


def main():
    os.makedirs(OUT, exist_ok=True)
    bgr = photo(64, 48)
    rgb = Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    rgb.convert('CMYK').save(os.path.join(OUT, 'cmyk.jpg'), quality=95)
    png = os.path.join(OUT, 'plain_for_interlace.png')
    cv2.imwrite(png, bgr)
    subprocess.run(['convert', png, '-interlace', 'PNG', os.path.join(OUT, 'interlaced.png')], check=True)
    os.remove(png)
    frames = [rgb.quantize(64), Image.fromarray(cv2.cvtColor(photo(64, 48, 10, 10), cv2.COLOR_BGR2RGB)).quantize(64)]
    frames[0].save(os.path.join(OUT, 'animated.gif'), save_all=True, append_images=frames[1:], duration=100, loop=0)
    pages = [rgb, Image.fromarray(cv2.cvtColor(photo(64, 48, 300, 300), cv2.COLOR_BGR2RGB))]
    pages[0].save(os.path.join(OUT, 'multipage.tif'), save_all=True, append_images=pages[1:])
    # A picture whose orientation is obvious: the photo with a dark bar along its top edge.
    marked = cv2.cvtColor(photo(60, 40), cv2.COLOR_BGR2RGB)
    marked[:6, :] = 0
    base = Image.fromarray(marked)
    for o in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = o
        base.save(os.path.join(OUT, f'exif_orientation_{o}.jpg'), quality=95, exif=exif.tobytes())
    for name in sorted(os.listdir(OUT)):
        if name.endswith('.opencv.png'):
            continue
        img = cv2.imread(os.path.join(OUT, name))
        if img is None:
            # OpenCV builds without a GIF reader: Pillow's first frame, gray by the same formula.
            first = np.array(Image.open(os.path.join(OUT, name)).convert('RGB'))
            img = cv2.cvtColor(first, cv2.COLOR_RGB2BGR)
        cv2.imwrite(os.path.join(OUT, name + '.opencv.png'), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    print('written', len(os.listdir(OUT)), 'files to', OUT)


if __name__ == '__main__':
    main()
