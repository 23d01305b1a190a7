#!/usr/bin/env python3
"""OpenCV's single-core speed for each kernel graypipe benches (benches/kernels.rs), on the same
picture (the book's ship.png resized) at the same sizes. Prints megapixels per second, the
median of REPEAT timed calls, each call writing into a preallocated output where OpenCV allows.

    python3 tools/opencv_kernels.py [REPEAT]
"""
import os
import statistics
import sys
from timeit import default_timer as timer

import cv2

cv2.setNumThreads(1)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPEAT = int(sys.argv[1]) if len(sys.argv) > 1 else 15


def rate(fn, pixels):
    fn()
    times = []
    for _ in range(REPEAT):
        t = timer()
        fn()
        times.append(timer() - t)
    return pixels / statistics.median(times) / 1e6


def main():
    ship = cv2.imread(os.path.join(ROOT, 'tests', 'fixtures', 'book', 'ship.png'))
    print('size', 'kernel', 'opencv_mpix_per_s', sep='\t')
    for w, h in ((78, 55), (1920, 1080), (4000, 3000)):
        bgr = cv2.resize(ship, (w, h), interpolation=cv2.INTER_LINEAR)
        g = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        out = g.copy()
        px = w * h
        kernels = {
            'gray': lambda: cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY, dst=out),
            'binary': lambda: cv2.threshold(g, 127, 255, cv2.THRESH_BINARY, dst=out),
            'otsu': lambda: cv2.threshold(g, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU, dst=out),
            'triangle': lambda: cv2.threshold(g, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_TRIANGLE, dst=out),
        }
        for b in (11, 31):
            kernels[f'adaptive_mean/{b}'] = (lambda b=b: cv2.adaptiveThreshold(
                g, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, b, 2, dst=out))
            kernels[f'adaptive_gaussian/{b}'] = (lambda b=b: cv2.adaptiveThreshold(
                g, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, b, 2, dst=out))
        for name, fn in kernels.items():
            print(f'{w}x{h}', name, f'{rate(fn, px):.1f}', sep='\t', flush=True)


if __name__ == '__main__':
    main()
