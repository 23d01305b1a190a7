#!/usr/bin/env python3
"""Benchmark (not a test) of the Python package, for a quiet machine.

1. threads: ``graypipe.threshold`` over COUNT gray pictures (default 1000) from 1 and 2 Python
   threads (a ThreadPoolExecutor), beside ``cv2.threshold`` doing the same from the same
   threads. Speedup = time(1 thread) / time(2 threads); with the GIL released it should
   approach 2 on 2 cores. The pictures are decoded once before timing (the files under IN,
   cycled to COUNT), so only the threshold calls are timed. OpenCV's own internal threading is
   off (``cv2.setNumThreads(1)``) unless --cv-threads is given, so both libraries scale only
   through the Python threads.
2. batch: ``graypipe.run`` from Python against the book's chapter 8 Pool script
   (``opencv_pool.py``, imread -> BGR2GRAY -> threshold -> imwrite in a multiprocessing Pool) on
   the same files, the same process/worker counts, PNG output for both, interleaved rounds,
   each run into a fresh folder. Ratio = Pool seconds / graypipe seconds (> 1: graypipe faster).

usage:
  bench_python.py IN [--count 1000] [--spec otsu] [--threads 1,2] [--procs 1,2]
                  [--rounds 5] [--pool /work/shared/tools/opencv_pool.py] [--skip-batch]
IN is a folder of pictures (e.g. sample_images/photos or a photo set from
tools/make_photo_set.py). Prints median seconds per point and the ratios; --json FILE writes
every sample.
"""

import argparse
import concurrent.futures as cf
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

import graypipe

CV_TYPES = {
    "binary": cv2.THRESH_BINARY,
    "binary-inv": cv2.THRESH_BINARY_INV,
    "trunc": cv2.THRESH_TRUNC,
    "tozero": cv2.THRESH_TOZERO,
    "tozero-inv": cv2.THRESH_TOZERO_INV,
}


def cv_threshold_fn(spec):
    """cv2's call for a fixed-type graypipe SPEC (the thread benchmark's OpenCV side)."""
    parts = spec.split(":")
    if len(parts) == 1:
        parts = ["binary", parts[0]]
    if len(parts) == 3:
        name, block, c = parts
        method = cv2.ADAPTIVE_THRESH_MEAN_C if "mean" in name else cv2.ADAPTIVE_THRESH_GAUSSIAN_C
        kind = cv2.THRESH_BINARY_INV if name.endswith("-inv") else cv2.THRESH_BINARY
        return lambda g: (None, cv2.adaptiveThreshold(g, 255, method, kind, int(block), float(c)))
    name, level = parts
    flag = CV_TYPES[name]
    if level == "otsu":
        return lambda g: cv2.threshold(g, 0, 255, flag | cv2.THRESH_OTSU)
    if level == "triangle":
        return lambda g: cv2.threshold(g, 0, 255, flag | cv2.THRESH_TRIANGLE)
    return lambda g: cv2.threshold(g, float(level), 255, flag)


def pictures(folder):
    files = sorted(
        os.path.join(r, f) for r, _, fs in os.walk(folder) for f in fs
    )
    grays = []
    for f in files:
        try:
            grays.append(graypipe.imread(f, gray=True))
        except graypipe.ImageError as e:
            print(f"skipped: {e}", file=sys.stderr)
    if not grays:
        sys.exit(f"no readable pictures under {folder}")
    return grays


def timed_map(fn, items, threads):
    with cf.ThreadPoolExecutor(max_workers=threads) as pool:
        pool.submit(lambda: None).result()  # threads started before the clock
        t = time.perf_counter()
        for _ in pool.map(fn, items, chunksize=max(1, len(items) // (threads * 8))):
            pass
        return time.perf_counter() - t


def bench_threads(args, samples):
    grays = pictures(args.input)
    items = [grays[i % len(grays)] for i in range(args.count)]
    mp = sum(g.size for g in items) / 1e6
    spec = args.spec
    ours = lambda g: graypipe.threshold(g, spec)  # noqa: E731
    theirs = cv_threshold_fn(spec)
    # Same pixels first: a benchmark of a wrong answer measures nothing.
    for g in grays:
        a, b = ours(g)[1], theirs(g)[1]
        if not np.array_equal(a, b):
            sys.exit("graypipe.threshold and cv2 disagree: not benchmarking")
    threads = [int(t) for t in args.threads.split(",")]
    times = {(lib, t): [] for lib in ("graypipe", "opencv") for t in threads}
    for _ in range(args.rounds):
        for t in threads:
            times[("graypipe", t)].append(timed_map(ours, items, t))
            times[("opencv", t)].append(timed_map(theirs, items, t))
    print(f"threads: {spec} over {len(items)} pictures ({mp:.1f} MP), "
          f"{len(grays)} distinct, median of {args.rounds}")
    print(f"{'library':<9} {'threads':>7} {'seconds':>9} {'MP/s':>8} {'speedup':>8}")
    for lib in ("graypipe", "opencv"):
        base = statistics.median(times[(lib, threads[0])])
        for t in threads:
            med = statistics.median(times[(lib, t)])
            print(f"{lib:<9} {t:>7} {med:>9.4f} {mp / med:>8.1f} {base / med:>8.2f}")
    samples["threads"] = {f"{lib}@{t}": v for (lib, t), v in times.items()}


def bench_batch(args, samples):
    if not os.path.exists(args.pool):
        print(f"batch: skipped, {args.pool} not found", file=sys.stderr)
        return
    procs = [int(p) for p in args.procs.split(",")]
    pool_op = {"otsu": "otsu", "triangle": "triangle"}.get(args.spec, args.spec)
    if pool_op.replace(".", "").isdigit():
        pool_op = f"binary:{pool_op}"
    spec = pool_op
    times = {(who, n): [] for who in ("pool", "graypipe") for n in procs}
    scratch = tempfile.mkdtemp(prefix="graypipe-bench-", dir=args.scratch)
    files = None
    try:
        for r in range(args.rounds):
            for n in procs:
                out = os.path.join(scratch, f"pool-{r}-{n}")
                line = subprocess.run(
                    [sys.executable, args.pool, args.input, out, pool_op, str(n), "png"],
                    check=True, capture_output=True, text=True,
                ).stdout.split()
                times[("pool", n)].append(float(line[1]))
                shutil.rmtree(out, ignore_errors=True)
                out = os.path.join(scratch, f"gp-{r}-{n}")
                t = time.perf_counter()
                report = graypipe.run(args.input, out, spec, workers=n)
                times[("graypipe", n)].append(time.perf_counter() - t)
                files = report["files"]["written"]
                if report["files"]["failed"]:
                    print(f"graypipe: {report['files']['failed']} files failed", file=sys.stderr)
                shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"\nbatch: {spec} over {files} files in {args.input}, PNG out, median of {args.rounds}")
    print(f"{'procs':>5} {'pool s':>9} {'graypipe s':>11} {'pool/graypipe':>14}")
    for n in procs:
        p = statistics.median(times[("pool", n)])
        g = statistics.median(times[("graypipe", n)])
        print(f"{n:>5} {p:>9.4f} {g:>11.4f} {p / g:>14.2f}")
    samples["batch"] = {f"{who}@{n}": v for (who, n), v in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--spec", default="otsu")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--procs", default="1,2")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pool", default="/work/shared/tools/opencv_pool.py")
    ap.add_argument("--scratch", default=None, help="folder for the batch outputs")
    ap.add_argument("--cv-threads", type=int, default=1)
    ap.add_argument("--skip-batch", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    cv2.setNumThreads(args.cv_threads)
    print(f"graypipe {graypipe.__version__}, OpenCV {cv2.__version__}, "
          f"{os.cpu_count()} logical cores, Python {sys.version.split()[0]}")
    samples = {}
    bench_threads(args, samples)
    if not args.skip_batch:
        bench_batch(args, samples)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(samples, f, indent=1)


if __name__ == "__main__":
    main()
