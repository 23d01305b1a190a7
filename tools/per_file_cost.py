#!/usr/bin/env python3
"""Per-file cost study (issue 11): where the time of many small files goes, in the two states
users meet, for graypipe and for the book's OpenCV + multiprocessing.Pool.

    cargo build --release --examples
    pip install opencv-python-headless
    python3 tools/per_file_cost.py [--copies 25] [--rounds 3] [--workers 2] [--work /tmp/graypipe-pfc]

Builds (once) a tree of 10,000 small JPEGs under WORK/in: the book's 400 tiles
(/work/shared/datasets/book/tiles, or sample_images/book/tiles) copied into 25 folders; never
inside the repository. Then, interleaved for --rounds rounds, adaptive Gaussian 11/2 -> PNG with
--workers workers:
  graypipe, settled    outputs of the previous round still there (they are replaced)
  graypipe, after rm   right after `rm -rf` of the output folder (a common habit)
  pool, settled / after rm   the book's Pool (cv2.imread -> cvtColor -> adaptiveThreshold ->
                        cv2.imwrite, plain non-atomic writes)
reporting for each the median whole-command wall time and the user and system CPU seconds of
the child processes (getrusage), so a rise of system time (file creation, directory updates)
shows apart from compute. Then runs examples/write_schemes on the same disk: the per-file cost
of O_TMPFILE + linkat, named temporary + rename, and in-place (non-atomic) writes, fresh and
replacing. Prints CSV-like lines; take figures on a quiet machine only.
"""
import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRAYPIPE = os.path.join(ROOT, 'target', 'release', 'graypipe')
SCHEMES = os.path.join(ROOT, 'target', 'release', 'examples', 'write_schemes')
TILES = [p for p in ('/work/shared/datasets/book/tiles', os.path.join(ROOT, 'sample_images', 'book', 'tiles'))
         if os.path.isdir(p)]

POOL = r'''
import os, sys, time, cv2
from multiprocessing import Pool
src, dst, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
jobs = []
for d, _, names in os.walk(src):
    for n in sorted(names):
        if n.lower().endswith(('.jpg', '.jpeg', '.png')):
            out = os.path.join(dst, os.path.relpath(d, src), os.path.splitext(n)[0] + '.png')
            jobs.append((os.path.join(d, n), out))
for _, out in jobs:
    os.makedirs(os.path.dirname(out), exist_ok=True)
def one(job):
    g = cv2.cvtColor(cv2.imread(job[0]), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(job[1], cv2.adaptiveThreshold(g, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 11, 2))
if __name__ == '__main__':
    with Pool(workers) as p:
        p.map(one, jobs, chunksize=64)
'''


def build_tree(work, copies):
    src = os.path.join(work, 'in')
    want = copies * len(os.listdir(TILES[0]))
    have = sum(len(f) for _, _, f in os.walk(src)) if os.path.isdir(src) else 0
    if have == want:
        return src
    shutil.rmtree(src, ignore_errors=True)
    for c in range(copies):
        shutil.copytree(TILES[0], os.path.join(src, f'copy{c:02d}'))
    return src


def timed(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--copies', type=int, default=25)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--work', default='/tmp/graypipe-pfc')
    a = ap.parse_args()
    if not TILES:
        sys.exit('no tiles folder found')
    if os.path.commonpath([os.path.abspath(a.work), ROOT]) == ROOT:
        sys.exit('--work must be outside the repository')
    for exe in (GRAYPIPE, SCHEMES):
        if not os.path.exists(exe):
            sys.exit(f'missing {exe}: cargo build --release --examples')
    src = build_tree(a.work, a.copies)
    n = sum(len(f) for _, _, f in os.walk(src))
    pool_py = os.path.join(a.work, 'book_pool.py')
    with open(pool_py, 'w') as f:
        f.write(POOL)
    tools = {
        'graypipe': lambda out: [GRAYPIPE, 'run', src, '-o', out, '--threshold', 'adaptive-gaussian:11:2',
                                 '--workers', str(a.workers), '--quiet'],
        'pool': lambda out: [sys.executable, pool_py, src, out, str(a.workers)],
    }
    results = {}
    for r in range(a.rounds):
        for name, cmd in tools.items():
            out = os.path.join(a.work, f'out-{name}')
            for state in ('after_rm', 'settled'):
                if state == 'after_rm':
                    shutil.rmtree(out, ignore_errors=True)
                else:
                    os.sync()
                    time.sleep(2)  # let writeback of the previous run settle
                results.setdefault((name, state), []).append(timed(cmd(out)))
    print(f'# {n} files, {a.workers} workers, {a.rounds} rounds (medians)')
    print('tool,state,wall_s,user_s,sys_s,us_per_file')
    for (name, state), rs in sorted(results.items()):
        wall, user, sys_ = (statistics.median(x[i] for x in rs) for i in range(3))
        print(f'{name},{state},{wall:.3f},{user:.3f},{sys_:.3f},{wall * 1e6 / n:.1f}')
    print('# write schemes alone (examples/write_schemes)')
    sys.stdout.flush()
    subprocess.run([SCHEMES, os.path.join(a.work, 'schemes'), str(n)], check=True)


if __name__ == '__main__':
    main()
