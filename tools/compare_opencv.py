#!/usr/bin/env python3
"""Runs graypipe and OpenCV on the same files and counts differing output pixels.

    python3 tools/compare_opencv.py target/release/graypipe sample_images adaptive-gaussian:11:2

Prints one line per operation: files, pixels compared, pixels that differ, largest difference.
Use it on JPEG folders to measure how far graypipe's JPEG decoder is from libjpeg-turbo's, and
on lossless folders to confirm exact equality on large pictures.
"""
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_fixtures import apply  # noqa: E402

EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.pbm', '.pgm', '.ppm', '.pnm')


def main():
    binary, src = sys.argv[1], sys.argv[2]
    ops = sys.argv[3:] or ['gray', 'binary:127', 'otsu', 'triangle', 'adaptive-mean:11:2', 'adaptive-gaussian:11:2']
    rels = sorted(os.path.relpath(os.path.join(r, f), src)
                  for r, _, fs in os.walk(src) for f in fs if f.lower().endswith(EXTS))
    print('operation', 'files', 'pixels', 'differing', 'fraction', 'max_abs_diff', sep='\t')
    for op in ops:
        with tempfile.TemporaryDirectory() as out:
            cmd = [binary, 'run', src, '-o', out, '--bit-depth', '8', '-q']
            if op != 'gray':
                cmd += ['--threshold', op if ':' in op or op in ('otsu', 'triangle') else op]
            subprocess.run(cmd, check=False)
            spec = {'otsu': 'binary:otsu', 'triangle': 'binary:triangle'}.get(op, op)
            files = pixels = differing = worst = 0
            for rel in rels:
                want_src = cv2.imread(os.path.join(src, rel))
                got = cv2.imread(os.path.join(out, os.path.splitext(rel)[0] + '.png'), cv2.IMREAD_GRAYSCALE)
                if want_src is None or got is None:
                    continue
                want = apply(spec, 255, cv2.cvtColor(want_src, cv2.COLOR_BGR2GRAY))
                if want.shape != got.shape:
                    print(f'{rel}: shape {got.shape} vs OpenCV {want.shape}', file=sys.stderr)
                    continue
                d = np.abs(want.astype(np.int16) - got.astype(np.int16))
                files += 1
                pixels += d.size
                differing += int((d > 0).sum())
                worst = max(worst, int(d.max()))
            print(op, files, pixels, differing, f'{differing / max(pixels, 1):.6f}', worst, sep='\t')


if __name__ == '__main__':
    main()
