#!/usr/bin/env python3
"""The engines against each other on the same files, interleaved, whole-process figures: wall
time, user + system CPU time (from wait4's rusage, so the whole process is counted) and peak
RSS. Checks the token-pipeline engine's targets (docs/BENCHMARKS.md, "Engines").

    cargo build --release
    python3 tools/make_photo_set.py /tmp/photos100 100
    mkdir -p /tmp/tiles10k && for i in $(seq -w 1 25); do mkdir -p /tmp/tiles10k/c$i; \\
        cp sample_images/book/tiles/* /tmp/tiles10k/c$i/; done
    python3 tools/bench_engines.py --set photos=/tmp/photos100:binary:127 \\
        --set tiles=/tmp/tiles10k:adaptive-gaussian:11:2 --repeat 7 [--scratch /dev/shm]

For each set: staged and serial at 1 worker, staged and rayon at 2 (more with --workers). Each
run writes into a fresh folder under --scratch; the folders are removed only after the set (a
deletion just before a run slows the run's own file creation on ext4). Prints per engine and
worker count the median wall, CPU and cores used (CPU / wall) and the median peak RSS, then the
ratios the targets name, each the median of per-round ratios (so a drifting machine cancels).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRAYPIPE = os.path.join(ROOT, 'target', 'release', 'graypipe')


def run_once(args, scratch):
    out = tempfile.mkdtemp(prefix='bench-engines-', dir=scratch)
    cmd = [GRAYPIPE, 'run'] + args + ['-o', out, '-q']
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors='replace')
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f'failed: {" ".join(cmd)}\n{err}')
    return out, {'wall': wall, 'cpu': ru.ru_utime + ru.ru_stime, 'rss_mib': ru.ru_maxrss / 1024}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--set', action='append', required=True,
                    help='NAME=FOLDER:SPEC (SPEC may contain colons)')
    ap.add_argument('--repeat', type=int, default=7)
    ap.add_argument('--workers', default='2', help='comma-separated N for staged vs rayon')
    ap.add_argument('--scratch', default=None)
    a = ap.parse_args()
    multi = [int(w) for w in a.workers.split(',')]
    for spec in a.set:
        name, rest = spec.split('=', 1)
        folder, op = rest.split(':', 1)
        configs = [('serial', 1), ('staged', 1)]
        for n in multi:
            configs += [('staged', n), ('rayon', n)]
        results = {c: [] for c in configs}
        outs = []
        for rnd in range(a.repeat + 1):  # round 0 warms the page cache and is not counted
            for engine, n in configs:
                out, r = run_once([folder, '--threshold', op, '--engine', engine, '-w', str(n)], a.scratch)
                outs.append(out)
                if rnd > 0:
                    results[(engine, n)].append(r)
        for o in outs:
            shutil.rmtree(o, ignore_errors=True)
        med = lambda xs: statistics.median(xs)
        print(f'\n== {name}: {folder}, {op}, {a.repeat} interleaved rounds (medians)')
        print(f'{"engine":8} {"N":>2} {"wall s":>8} {"cpu s":>8} {"cores":>6} {"RSS MiB":>8}')
        for (engine, n), rs in results.items():
            print(f'{engine:8} {n:>2} {med([r["wall"] for r in rs]):8.3f} {med([r["cpu"] for r in rs]):8.3f} '
                  f'{med([r["cpu"] / r["wall"] for r in rs]):6.2f} {med([r["rss_mib"] for r in rs]):8.1f}')

        def ratio(a_cfg, b_cfg, key):
            return med([x[key] / y[key] for x, y in zip(results[a_cfg], results[b_cfg])])

        print(f'staged 1 cores used: {med([r["cpu"] / r["wall"] for r in results[("staged", 1)]]):.3f} (target <= 1.05)')
        print(f'staged 1 / serial wall: {ratio(("staged", 1), ("serial", 1), "wall"):.3f} (target within 5%)')
        for n in multi:
            thr = ratio(('rayon', n), ('staged', n), 'wall')
            print(f'staged {n} throughput / rayon {n}: {thr:.3f} (target >= 0.98)')
            print(f'staged {n} RSS / rayon {n}: {ratio(("staged", n), ("rayon", n), "rss_mib"):.3f} (target <= 1.15)')
            print(f'staged {n} CPU / serial CPU: {ratio(("staged", n), ("serial", 1), "cpu"):.3f} (target within 5%)')


if __name__ == '__main__':
    main()
