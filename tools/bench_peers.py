#!/usr/bin/env python3
"""End-to-end comparison of graypipe with the peers users run today, on the same files, on the
same machine, in one run, interleaved. Peers that are not installed are skipped.

    pip install opencv-python-headless pyvips-binary pyvips     # OpenCV and libvips peers
    apt-get install imagemagick graphicsmagick                  # mogrify peers
    cargo build --release
    python3 tools/bench_peers.py [--repeat 5] [--workloads a,b,c,d,e] [--out docs/bench-results.json]

Workloads (docs/BENCHMARKS.md):
  a  the book's 400 tiles (sample_images/book/tiles), adaptive Gaussian 11/2
  b  100 JPEG photos of 2 MP (tools/make_photo_set.py), gray + binary 127 -> PNG
  c  the same photos, Otsu      d  the same photos, adaptive Gaussian 11/2
  e  the photos x 10 (1000 files), binary 127: throughput and memory as the batch grows
  f  the 100 photos, binary 127, read as gray: graypipe --read gray against the Pool with
     cv2.IMREAD_GRAYSCALE (issue 11)
  g  10,000 small JPEGs (the book's tiles copied into 25 folders), adaptive Gaussian 11/2
     (issue 11's per-file cost workload, outputs on a settled disk)
--floor adds three rows that are not tools but floors (examples/per_file_floor.rs, built with
`cargo build --release --example per_file_floor`): the same files read and a fixed PNG written
atomically (`io`), plus the decode (`decode`), plus gray, the operation and the encode (`full`),
with no plan, clocks or checks: what any tool that writes atomically must at least spend.
Each tool writes PNG into a fresh folder on the same disk; the time is the whole command's wall
time (graypipe) or the tool's own timer around its pool (OpenCV, libvips scripts, which leave
out Python's start-up). Medians of --repeat interleaved rounds.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRAYPIPE = os.path.join(ROOT, 'target', 'release', 'graypipe')
TOOLS = os.path.join(os.path.dirname(ROOT), 'shared', 'tools')
if not os.path.isdir(TOOLS):
    TOOLS = os.environ.get('GRAYPIPE_PEER_TOOLS', TOOLS)


def have(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def wall(cmd, env=None):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f'{cmd[0]} failed: {r.stderr[-500:]}')
    return dt, r.stdout


def graypipe(src, spec, engine, workers, read='color'):
    def run(out):
        report = out + '.json'
        os.makedirs(os.path.dirname(report), exist_ok=True)
        cmd = [GRAYPIPE, 'run', src, '-o', out, '-q', '--engine', engine, '--workers', str(workers), '--report', report,
               '--read', read]
        if spec != 'gray':
            cmd += ['--threshold', spec]
        dt, _ = wall(cmd)
        with open(report) as f:
            rss = json.load(f).get('peak_rss_bytes')
        return dt, rss
    return run


def floor(src, level, spec, threads=2):
    binary = os.path.join(ROOT, 'target', 'release', 'examples', 'per_file_floor')

    def run(out):
        dt, _ = wall([binary, level, src, out, str(threads), spec])
        return dt, None
    return run


def opencv_pool(src, op, procs, read='color'):
    script = os.path.join(TOOLS, 'opencv_pool.py')

    def run(out):
        _, text = wall([sys.executable, script, src, out, op, str(procs), 'png', read])
        return float(text.split()[1]), None
    return run


def vips_pool(src, t, procs):
    script = os.path.join(TOOLS, 'vips_pool.py')

    def run(out):
        env = dict(os.environ, VIPS_CONCURRENCY='1')
        _, text = wall([sys.executable, script, src, out, str(t), str(procs)], env=env)
        return float(text.split()[1]), None
    return run


def mogrify(src, threads, gm):
    files = sorted(os.path.join(src, f) for f in os.listdir(src))

    def run(out):
        os.makedirs(out, exist_ok=True)
        if gm:
            # gm keeps the input path below -output-directory, so run it from the input folder.
            cmd = ['gm', 'mogrify', '-output-directory', out, '-format', 'png', '-colorspace', 'gray', '-threshold', '49.8%'] + [os.path.basename(f) for f in files]
            env = dict(os.environ, OMP_NUM_THREADS=str(threads))
            t = time.perf_counter()
            r = subprocess.run(cmd, cwd=src, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                raise RuntimeError(f'gm failed: {r.stderr[-500:]}')
            return time.perf_counter() - t, None
        else:
            cmd = ['mogrify', '-path', out, '-format', 'png', '-colorspace', 'Gray', '-threshold', '49.8%'] + files
            env = dict(os.environ, MAGICK_THREAD_LIMIT=str(threads))
        dt, _ = wall(cmd, env=env)
        return dt, None
    return run


def workloads(photos, photos10, tiles10k):
    tiles = os.path.join(ROOT, 'sample_images', 'book', 'tiles')
    return {
        'f': ('100 photos, binary 127, read as gray', photos, 'binary:127', 'binary:127', None),
        'g': ('10,000 small JPEGs, adaptive Gaussian 11/2', tiles10k, 'adaptive-gaussian:11:2',
              'adaptive-gaussian:11:2', None),
        'a': ('book tiles, adaptive Gaussian 11/2', tiles, 'adaptive-gaussian:11:2', 'adaptive-gaussian:11:2', None),
        'b': ('100 photos, binary 127', photos, 'binary:127', 'binary:127', 127),
        'c': ('100 photos, Otsu', photos, 'otsu', 'otsu', None),
        'd': ('100 photos, adaptive Gaussian 11/2', photos, 'adaptive-gaussian:11:2', 'adaptive-gaussian:11:2', None),
        'e': ('1000 photos, binary 127', photos10, 'binary:127', 'binary:127', 127),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--repeat', type=int, default=5)
    ap.add_argument('--workloads', default='a,b,c,d,e')
    ap.add_argument('--floor', action='store_true',
                    help='add the per-file floors (examples/per_file_floor, colour read only)')
    ap.add_argument('--out', default=None, help='write the results as JSON here')
    ap.add_argument('--output-root', default=None,
                    help='folder for the tools\' output folders (default: beside the inputs, on disk); '
                         '/dev/shm takes the disk out')
    args = ap.parse_args()
    scratch = tempfile.mkdtemp(prefix='graypipe-bench-')
    photos = os.path.join(scratch, 'photos100')
    subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'make_photo_set.py'), photos, '100'], check=True,
                   stdout=subprocess.DEVNULL)
    photos10 = os.path.join(scratch, 'photos1000')
    os.makedirs(photos10)
    for k in range(10):
        for f in sorted(os.listdir(photos)):
            shutil.copy(os.path.join(photos, f), os.path.join(photos10, f'c{k}_{f}'))
    tiles10k = os.path.join(scratch, 'tiles10k')
    if 'g' in args.workloads.split(','):
        tiles = os.path.join(ROOT, 'sample_images', 'book', 'tiles')
        for k in range(25):
            shutil.copytree(tiles, os.path.join(tiles10k, f'copy{k:02}'),
                            ignore=shutil.ignore_patterns('*.txt', '*.md', 'LICENSE*'))
    results = {}
    leftovers = []
    cv = have('cv2') and os.path.exists(os.path.join(TOOLS, 'opencv_pool.py'))
    vips = have('pyvips') and os.path.exists(os.path.join(TOOLS, 'vips_pool.py'))
    for key in args.workloads.split(','):
        title, src, spec, op, t = workloads(photos, photos10, tiles10k)[key]
        nfiles = sum(len(fs) for _, _, fs in os.walk(src))
        read = 'gray' if key == 'f' else 'color'
        contenders = {
            'graypipe rayon 2': graypipe(src, spec, 'rayon', 2, read),
            'graypipe staged 2': graypipe(src, spec, 'staged', 2, read),
        }
        if args.floor and read == 'color':
            for level in ('io', 'decode', 'full'):
                contenders[f'floor {level} 2 (not a tool)'] = floor(src, level, spec)
        if cv:
            for p in (1, 2, 4):
                contenders[f'OpenCV + Pool({p})'] = opencv_pool(src, op, p, read)
        if vips and t is not None:
            for p in (1, 2):
                contenders[f'libvips Pool({p})'] = vips_pool(src, t, p)
        if t is not None and key != 'e':
            if shutil.which('mogrify'):
                contenders['ImageMagick mogrify (2 threads)'] = mogrify(src, 2, gm=False)
            if shutil.which('gm'):
                contenders['GraphicsMagick mogrify (2 threads)'] = mogrify(src, 2, gm=True)
        times = {name: [] for name in contenders}
        rss = {name: [] for name in contenders}
        # Every run writes into a folder of its own, all removed only when every workload is
        # done: after a mass delete ext4 skips each freed inode it still counts as recently
        # deleted (up to 6 minutes: fs/ext4/ialloc.c, recently_deleted) and file creation
        # slows several times, so a delete between workloads would slow the next one.
        outs = os.path.join(args.output_root or scratch, f'graypipe-bench-out-{key}')
        leftovers.append(outs)
        for rnd in range(args.repeat + 1):  # round 0 warms the page cache and is not counted
            for i, (name, run) in enumerate(contenders.items()):
                out = os.path.join(outs, f'{rnd}-{i}')
                dt, peak = run(out)
                if rnd > 0:
                    times[name].append(dt)
                    if peak:
                        rss[name].append(peak)
        rows = []
        for name in contenders:
            med = statistics.median(times[name])
            rows.append({'tool': name, 'median_seconds': med, 'min_seconds': min(times[name]),
                         'max_seconds': max(times[name]), 'images_per_second': nfiles / med,
                         'peak_rss_bytes': max(rss[name]) if rss[name] else None, 'runs': times[name]})
        results[key] = {'title': title, 'files': nfiles, 'rows': rows}
        best_peer = max((r for r in rows if not r['tool'].startswith(('graypipe', 'floor'))), key=lambda r: r['images_per_second'], default=None)
        print(f'\n({key}) {title}: {nfiles} files, median of {args.repeat} rounds')
        print(f"{'tool':<36} {'median s':>9} {'min-max':>17} {'images/s':>9} {'vs best peer':>12} {'peak RSS':>10}")
        for r in sorted(rows, key=lambda r: -r['images_per_second']):
            ratio = r['images_per_second'] / best_peer['images_per_second'] if best_peer else float('nan')
            peak = f"{r['peak_rss_bytes'] / 2**20:.1f} MiB" if r['peak_rss_bytes'] else '-'
            print(f"{r['tool']:<36} {r['median_seconds']:>9.3f} {r['min_seconds']:>8.3f}-{r['max_seconds']:<8.3f} "
                  f"{r['images_per_second']:>9.1f} {ratio:>11.2f}x {peak:>10}", flush=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f, indent=1)
    for outs in leftovers:
        shutil.rmtree(outs, ignore_errors=True)
    shutil.rmtree(scratch, ignore_errors=True)
    print('\nOutputs deleted: file creation on this disk is slower for the next few minutes.')


if __name__ == '__main__':
    main()
