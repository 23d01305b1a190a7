#!/usr/bin/env bash
# Balance of --shard-by size against hash on a folder of mixed sizes: the book's 400 small
# tiles, ship.jpg, and COUNT big photos from make_photo_set.py. Runs N shards one
# after another with one worker each, merges them, and prints for each strategy the bytes
# imbalance (largest shard's input bytes over the mean: what the assignment controls) and the
# wall-time imbalance `graypipe merge` reports (slowest shard over the mean). Wall figures
# are only meaningful on a quiet machine.
#
#   tools/shard_balance.sh target/release/graypipe [N=4] [COUNT=8] [WORK=/tmp/shard-balance]
# Needs python3 with opencv-python-headless and numpy (for make_photo_set.py).
set -euo pipefail
BIN=$(realpath "${1:?graypipe binary}")
N=${2:-4}
COUNT=${3:-8}
WORK=${4:-/tmp/shard-balance}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BOOK=${BOOK:-$ROOT/sample_images/book}

rm -rf "$WORK"
mkdir -p "$WORK/in"
mkdir -p "$WORK/in/book"
cp -r "$BOOK/tiles" "$WORK/in/book/tiles"
cp "$BOOK/ship.jpg" "$WORK/in/book/"
python3 "$ROOT/tools/make_photo_set.py" "$WORK/in/photos" "$COUNT" >/dev/null
echo "folder: $(find "$WORK/in" -type f -name '*.*g' | wc -l) images, $(du -sh "$WORK/in" | cut -f1)"

for by in size hash; do
    mkdir -p "$WORK/reports-$by"
    for k in $(seq 1 "$N"); do
        "$BIN" run "$WORK/in" -o "$WORK/out-$by" -q -w 1 --engine serial \
            --shard "$k/$N" --shard-by "$by" --report "$WORK/reports-$by/$k.json"
    done
    "$BIN" merge "$WORK/reports-$by"/*.json -o "$WORK/merged-$by.json" 2>"$WORK/merge-$by.txt"
    python3 - "$WORK/merged-$by.json" "$by" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
b = [s["shard_bytes"] for s in m["shards"]]
w = [s["wall_seconds"] for s in m["shards"]]
f = [s["files"]["written"] for s in m["shards"]]
mean = sum(b) / len(b)
print(f"{sys.argv[2]:>4}: bytes imbalance {max(b) / mean:.3f}  wall imbalance {m['imbalance']:.3f}"
      f"  files per shard {f}  MB per shard {[round(x / 1e6, 2) for x in b]}"
      f"  wall per shard {[round(x, 2) for x in w]}")
PY
done
