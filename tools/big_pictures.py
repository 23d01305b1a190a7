#!/usr/bin/env python3
"""Big pictures: makes them from the book's ship.png upscaled with cv2, converts them with
graypipe at several worker counts, and checks every output against OpenCV (pixels) and
against each other (bytes: the worker count must never change the file).

    python3 tools/big_pictures.py make DIR [--mp 108]
        DIR/big.jpg, big.png (8-bit), big.tif (LZW, OpenCV's default), big16.png (16-bit
        RGBA, 121 MP at --mp 108: 11 % more pixels, the issue's refused case)
    python3 tools/big_pictures.py check DIR GRAYPIPE [--workers 1 2] [--threshold SPEC...]
        converts each picture at each worker count (PNG out) and compares with cv2.imread +
        cvtColor (+ threshold / adaptiveThreshold); exit status 1 on any difference.

The pictures are not committed (hundreds of MB); they are made on demand.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np

SHIP = "/work/shared/datasets/book/ship.png"


def make(out_dir, mp, src=SHIP):
    os.makedirs(out_dir, exist_ok=True)
    ship = cv2.imread(src, cv2.IMREAD_COLOR)
    h0, w0 = ship.shape[:2]
    scale = (mp * 1e6 / (w0 * h0)) ** 0.5
    w, h = int(w0 * scale), int(h0 * scale)
    big = cv2.resize(ship, (w, h), interpolation=cv2.INTER_CUBIC)
    # A little noise, so that deflate and JPEG see texture rather than smooth upscaling.
    rng = np.random.default_rng(24)
    big = cv2.add(big, rng.integers(0, 6, big.shape, dtype=np.uint8))
    cv2.imwrite(os.path.join(out_dir, "big.jpg"), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    cv2.imwrite(os.path.join(out_dir, "big.png"), big, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    cv2.imwrite(os.path.join(out_dir, "big.tif"), big)  # LZW, OpenCV's default
    s = 1.0555  # 121 MP from 108
    w16, h16 = int(w * s), int(h * s)
    big16 = cv2.resize(big, (w16, h16), interpolation=cv2.INTER_LINEAR).astype(np.uint16) * 257
    alpha = np.full((h16, w16, 1), 65535, np.uint16)
    cv2.imwrite(
        os.path.join(out_dir, "big16.png"),
        np.concatenate([big16, alpha], axis=2),
        [cv2.IMWRITE_PNG_COMPRESSION, 1],
    )
    for name in ["big.jpg", "big.png", "big.tif", "big16.png"]:
        p = os.path.join(out_dir, name)
        print(f"{p}: {os.path.getsize(p) / 1e6:.0f} MB")


def expected(path, spec):
    gray = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2GRAY)
    if spec == "gray":
        return gray
    parts = spec.split(":")
    if parts[0].startswith("adaptive"):
        method = (
            cv2.ADAPTIVE_THRESH_GAUSSIAN_C if "gaussian" in parts[0] else cv2.ADAPTIVE_THRESH_MEAN_C
        )
        kind = cv2.THRESH_BINARY_INV if parts[0].endswith("-inv") else cv2.THRESH_BINARY
        return cv2.adaptiveThreshold(gray, 255, method, kind, int(parts[1]), float(parts[2]))
    if spec == "otsu":
        return cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
    if spec == "triangle":
        return cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_TRIANGLE)[1]
    return cv2.threshold(gray, float(spec), 255, cv2.THRESH_BINARY)[1]


def check(in_dir, graypipe, workers, specs):
    bad = 0
    pictures = sorted(f for f in os.listdir(in_dir) if f.startswith("big"))
    for name in pictures:
        path = os.path.join(in_dir, name)
        for spec in specs:
            want = expected(path, spec)
            outputs = {}
            for n in workers:
                with tempfile.TemporaryDirectory() as out:
                    cmd = [graypipe, "run", path, "-o", out, "--threshold", spec,
                           "--workers", str(n), "--format", "png"]
                    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                    (result,) = [os.path.join(out, f) for f in os.listdir(out)]
                    with open(result, "rb") as f:
                        outputs[n] = f.read()
                    got = cv2.imread(result, cv2.IMREAD_GRAYSCALE)
                    if spec != "gray":
                        got = np.where(got > 0, 255, 0).astype(np.uint8)
                same = got is not None and got.shape == want.shape and np.array_equal(got, want)
                diff = "" if same else f" ({np.count_nonzero(got != want) if got is not None and got.shape == want.shape else 'shape'} differ)"
                print(f"{name} {spec} workers {n}: {'equal to cv2' if same else 'DIFFERENT' + diff}")
                bad += not same
            first = outputs[workers[0]]
            for n, data in outputs.items():
                if data != first:
                    print(f"{name} {spec}: bytes at {n} workers differ from {workers[0]} workers")
                    bad += 1
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("dir")
    m.add_argument("--mp", type=float, default=108)
    c = sub.add_parser("check")
    c.add_argument("dir")
    c.add_argument("graypipe")
    c.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    c.add_argument("--threshold", nargs="+", default=["gray", "adaptive-gaussian:11:2", "otsu"])
    a = ap.parse_args()
    if a.cmd == "make":
        make(a.dir, a.mp)
        return 0
    return 1 if check(a.dir, a.graypipe, a.workers, a.threshold) else 0


if __name__ == "__main__":
    sys.exit(main())
