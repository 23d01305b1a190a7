#!/usr/bin/env bash
# The README's closing note on busy machines: the same sweep on an idle machine, then with a CPU
# hog busy on one core, and what graypipe says in each. Run on a quiet machine:
#   bash tools/sweep_load_demo.sh [OUT_DIR]
# Writes OUT_DIR/{idle,hog}.{txt,json,svg}. Needs a release build (cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/graypipe-load-demo}
mkdir -p "$out"
bin=target/release/graypipe
[ -x "$bin" ] || cargo build --release --locked
job=(sample_images/book/tiles --threshold adaptive-gaussian:11:2 --engine rayon,staged
     --scratch /dev/shm -q ${SWEEP_ARGS:-})

echo "== idle machine" >&2
"$bin" sweep "${job[@]}" --export-json "$out/idle.json" --plot "$out/idle.svg" | tee "$out/idle.txt"

echo "== with a CPU hog on one core" >&2
# A busy loop pinned to CPU 0 (taskset where available), killed by its own process id.
if command -v taskset >/dev/null; then
    taskset -c 0 sh -c 'while :; do :; done' &
else
    sh -c 'while :; do :; done' &
fi
hog=$!
trap 'kill "$hog" 2>/dev/null || true' EXIT
"$bin" sweep "${job[@]}" --export-json "$out/hog.json" --plot "$out/hog.svg" | tee "$out/hog.txt"
kill "$hog"
echo "outputs in $out" >&2
