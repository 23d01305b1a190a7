#!/bin/bash
# graypipe over GNU parallel: N shards run on the machines listed in --sshlogin (or locally
# without it), then one merge. Every machine must see the same folder at the same path.
#
#   bash examples/gnu-parallel/shards.sh /shared/scans /shared/gray 4 node1,node2
set -euo pipefail
INPUT=${1:?input folder}
OUTPUT=${2:?output folder}
N=${3:-4}
HOSTS=${4:-:}            # ":" is the local machine
REPORTS=${OUTPUT%/}-reports
mkdir -p "$REPORTS"
seq 1 "$N" | parallel --sshlogin "$HOSTS" --halt never \
    graypipe run "$INPUT" -o "$OUTPUT" -q --skip-existing --shard "{}/$N" \
    --report "$REPORTS/shard-{}.json" ||
    echo "some shards failed; the merge below names them" >&2
# Exit 1, naming the shard, if any shard is missing, duplicated, failed or saw another listing.
graypipe merge "$REPORTS"/shard-*.json -o "${OUTPUT%/}-report.json"
