#!/bin/bash
# Submits a graypipe batch to Slurm as a job array plus a merge job that runs when the array
# has ended, however its tasks ended (--dependency=afterany), and writes the inputs to retry.
#
#   examples/slurm/submit.sh /shared/scans /shared/gray [TASKS [AT_ONCE [CPUS]]]
#
# TASKS (default 64) is over-decomposition: many more shards than nodes, AT_ONCE (default 16)
# of them running at a time (--array=0-63%16), so a slow or lost node holds up one small shard.
# The merge job writes OUTPUT-report.json and OUTPUT-retry.txt (failed files, and the files
# of shards that never reported); if the list is not empty, convert them with the command the
# merge prints in OUTPUT-merge.out:
#   graypipe run --files-from /shared/gray-retry.txt --relative-to /shared/scans -o /shared/gray --threshold otsu
set -euo pipefail
INPUT=$(realpath "${1:?input folder}")
OUTPUT=$(realpath -m "${2:?output folder}")
TASKS=${3:-64}
AT_ONCE=${4:-16}
CPUS=${5:-1}
GRAYPIPE=${GRAYPIPE:-graypipe}
REPORTS=${OUTPUT%/}-reports
mkdir -p "$REPORTS" "$OUTPUT"
array=$(sbatch --parsable --job-name=graypipe --array="0-$((TASKS - 1))%$AT_ONCE" \
    --ntasks=1 --cpus-per-task="$CPUS" --output="${OUTPUT%/}-%A_%a.out" \
    --wrap="exec $GRAYPIPE run '$INPUT' -o '$OUTPUT' --threshold otsu -w $CPUS -q --skip-existing \
        --shard auto --report '$REPORTS'/shard-\$SLURM_ARRAY_TASK_ID.json")
array=${array%%;*}
merge=$(sbatch --parsable --job-name=graypipe-merge --dependency="afterany:$array" \
    --ntasks=1 --cpus-per-task=1 --output="${OUTPUT%/}-merge.out" \
    --wrap="$GRAYPIPE merge '$REPORTS'/shard-*.json -o '${OUTPUT%/}-report.json' \
        --failed-list '${OUTPUT%/}-retry.txt'")
echo "array job $array ($TASKS shards, $AT_ONCE at a time), merge job $merge"
