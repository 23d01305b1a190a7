#!/usr/bin/env python3
"""Single-core kernel speed, graypipe against OpenCV, on the same picture at the same sizes.

Runs `cargo bench --bench kernels` and tools/opencv_kernels.py (skipped when OpenCV is not
installed), both pinned to core 0 when `taskset` exists, and prints one Markdown table.

    python3 tools/bench_kernels.py
"""
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNITS = {'elem/s': 1e-6, 'Kelem/s': 1e-3, 'Melem/s': 1.0, 'Gelem/s': 1e3}


def pinned(cmd):
    return (['taskset', '-c', '0'] + cmd) if shutil.which('taskset') else cmd


def graypipe_rates():
    out = subprocess.run(pinned(['cargo', 'bench', '--bench', 'kernels', '--', '--warm-up-time', '1',
                                 '--measurement-time', '3']), cwd=ROOT, capture_output=True, text=True).stdout
    rates, name = {}, None
    for line in out.splitlines():
        m = re.match(r'^kernels/(\S+)\s*(time:)?', line)
        if m:
            name = m.group(1)
            continue
        m = re.search(r'thrpt:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]', line)
        if m and name:
            rates[name] = float(m.group(1)) * UNITS[m.group(2)]
            name = None
    return rates


def opencv_rates():
    try:
        import cv2  # noqa: F401
    except ImportError:
        return {}
    out = subprocess.run(pinned([sys.executable, os.path.join(ROOT, 'tools', 'opencv_kernels.py')]),
                         capture_output=True, text=True).stdout
    rates = {}
    for line in out.splitlines()[1:]:
        size, kernel, mps = line.split('\t')
        rates[f'{size}/{kernel}'] = float(mps)
    return rates


def main():
    g, o = graypipe_rates(), opencv_rates()
    print('| size | kernel | graypipe Mpx/s | OpenCV Mpx/s | ratio |')
    print('| --- | --- | ---: | ---: | ---: |')
    for key in g:
        size, kernel = key.split('/', 1)
        ocv = o.get(key)
        ratio = f'{g[key] / ocv:.2f}x' if ocv else '-'
        print(f"| {size} | {kernel} | {g[key]:.0f} | {ocv:.0f} | {ratio} |" if ocv else f"| {size} | {kernel} | {g[key]:.0f} | - | - |")


if __name__ == '__main__':
    main()
