#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine: `sbatch --array=0-3` of `graypipe run --shard
# auto`, the four reports merged, the tree compared byte for byte with a single run; then an
# array with one shard made to fail, which `graypipe merge` must name, and whose files
# `merge --failed-list` hands to a retry job (`run --files-from`) that completes the tree.
#
# Usage: tests/slurm/array_test.sh GRAYPIPE_BINARY INPUT_FOLDER
# Needs root (it installs Debian packages and runs munged, slurmctld and slurmd as root,
# without systemd). Skips with a visible message where it cannot be root.
# Recipe details (each from a tried run): SlurmctldHost=localhost(127.0.0.1) because a
# container may have no /etc/hosts (then every client call stalls 10 s); munge key mode 600 and
# socket folder mode 755 (munged refuses others); proctrack/linuxproc and task/none (with the
# cgroup plugins a job dies at launch and Slurm still says COMPLETED, so the shards' reports are
# checked, never the job state); no accounting (so squeue is polled, not sacct); a timeout on
# every client call; daemons waited on by process id (Slurm removes its pid files before its
# processes exit); only the processes this script started are stopped.
set -euo pipefail

BIN=$(realpath "${1:?usage: array_test.sh GRAYPIPE_BINARY INPUT_FOLDER}")
INPUT=$(realpath "${2:?usage: array_test.sh GRAYPIPE_BINARY INPUT_FOLDER}")

if [ "$(id -u)" != 0 ]; then
    echo "SKIPPED: Slurm array test: needs root to install and start munged/slurmctld/slurmd (uid $(id -u))"
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
    ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    echo "== installing Slurm and munge (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -qq
    timeout 900 apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

T=$(mktemp -d /tmp/graypipe-slurm.XXXXXX)
PIDS=()
stop_daemons() {
    # Stop in reverse start order; wait on each pid (pid files vanish before exit).
    local i pid
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[$i]}
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
on_exit() {
    local rc=$?
    stop_daemons
    if [ "$rc" != 0 ]; then
        echo "-- slurmctld log (tail)"; tail -n 30 "$T/slurmctld.log" 2>/dev/null || true
        echo "-- slurmd log (tail)"; tail -n 30 "$T/slurmd.log" 2>/dev/null || true
        echo "-- munged log (tail)"; tail -n 10 "$T/munged.log" 2>/dev/null || true
        echo "-- job output"; tail -n 20 "$T"/logs/* 2>/dev/null || true
        echo "(files kept in $T)"
    else
        rm -rf "$T"
    fi
    exit "$rc"
}
trap on_exit EXIT

fail() {
    echo "FAIL: $*"
    exit 1
}

# munge: key mode 600, socket folder mode 755.
mkdir -p "$T/munge" "$T/state" "$T/spool" "$T/logs"
chmod 755 "$T/munge"
head -c 1024 /dev/urandom >"$T/munge.key"
chmod 600 "$T/munge.key"
SOCKET="$T/munge/munge.socket.2"
munged -F --force --key-file="$T/munge.key" --socket="$SOCKET" --pid-file="$T/munged.pid" \
    --log-file="$T/munged.log" --seed-file="$T/munged.seed" >>"$T/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do [ -S "$SOCKET" ] && break; sleep 0.1; done
[ -S "$SOCKET" ] || fail "munged did not open its socket"

PORT_BASE=${GRAYPIPE_SLURM_PORT:-16817}
cat >"$T/slurm.conf" <<CONF
ClusterName=graypipe
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$PORT_BASE
SlurmdPort=$((PORT_BASE + 1))
AuthType=auth/munge
AuthInfo=socket=$SOCKET
CredType=cred/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
MpiDefault=none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=main Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$T/slurm.conf"

slurmctld -D -i -f "$SLURM_CONF" >>"$T/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -N localhost -f "$SLURM_CONF" >>"$T/slurmd.out" 2>&1 &
PIDS+=($!)

state=""
for _ in $(seq 1 120); do
    state=$(timeout 10 sinfo -h -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.5
done
[ "$state" = idle ] || fail "the node did not come up idle (sinfo said '$state')"
echo "== Slurm up: $(timeout 10 sinfo -h -o '%P %D %T %c' || true), $(slurmctld -V)"

# Submits a 4-task array running SCRIPT; waits until the queue has none of its tasks.
submit_and_wait() {
    local script=$1 jid
    jid=$(timeout 30 sbatch --parsable --array=0-3 --output="$T/logs/%A_%a.out" "$script") ||
        fail "sbatch refused the array"
    jid=${jid%%;*}
    echo "   job array $jid submitted" >&2
    for _ in $(seq 1 600); do
        if [ -z "$(timeout 10 squeue -h -j "$jid" -o %i 2>/dev/null || echo pending)" ]; then
            echo "$jid"
            return 0
        fi
        sleep 0.5
    done
    fail "job array $jid still queued after 300 s"
}

write_job() { # OUT REPORTS FAIL_TASK
    cat >"$T/job-$(basename "$1").sh" <<JOB
#!/bin/bash
#SBATCH --job-name=graypipe-shard
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
if [ "\$SLURM_ARRAY_TASK_ID" = "$3" ]; then
    echo "task \$SLURM_ARRAY_TASK_ID made to fail before running graypipe" >&2
    exit 3
fi
exec "$BIN" run "$INPUT" -o "$1" -w 1 -q --shard auto \
    --report "$2/shard-\$SLURM_ARRAY_TASK_ID.json"
JOB
    echo "$T/job-$(basename "$1").sh"
}

echo "== array 1: sbatch --array=0-3 graypipe run --shard auto"
mkdir -p "$T/reports"
start=$(date +%s%N)
submit_and_wait "$(write_job "$T/out" "$T/reports" none)" >/dev/null
echo "   array done in $((($(date +%s%N) - start) / 1000000)) ms"
ls "$T"/reports/*.json >/dev/null 2>&1 || fail "no shard reported"
"$BIN" merge "$T"/reports/*.json -o "$T/merged.json" || fail "merge refused the complete array"
grep -q '"complete": true' "$T/merged.json" || fail "merged report not complete"
grep -q '"source": "slurm"' "$T/merged.json" || fail "shards did not take K/N from Slurm"

echo "== single run for comparison"
"$BIN" run "$INPUT" -o "$T/single" -q
diff -r "$T/single" "$T/out" >/dev/null || fail "sharded tree differs from the single run"
echo "   sharded tree byte-identical to the single run ($(find "$T/out" -type f | wc -l) files)"

echo "== array 2: task 2 (shard 3/4) made to fail; merge must name it"
mkdir -p "$T/reports2"
submit_and_wait "$(write_job "$T/out2" "$T/reports2" 2)" >/dev/null
set +e
"$BIN" merge "$T"/reports2/*.json -o "$T/merged2.json" 2>"$T/merge2.err"
rc=$?
set -e
cat "$T/merge2.err"
[ "$rc" = 1 ] || fail "merge exited $rc for an incomplete array (expected 1)"
grep -q "shard 3/4 is missing" "$T/merge2.err" || fail "merge did not name the missing shard 3/4"

echo "== retry only what failed: merge --failed-list, then run --files-from as a Slurm job"
"$BIN" merge "$T"/reports2/*.json -o "$T/merged2.json" --failed-list "$T/failed.txt" 2>/dev/null &&
    fail "merge of the incomplete array exited 0"
[ -s "$T/failed.txt" ] || fail "the failed list is empty"
echo "   $(wc -l <"$T/failed.txt") inputs to retry (shard 3/4's files, from the listing the other shards carry)"
# The retried files must be exactly the ones the single run wrote and the array did not.
expected=$(cd "$T/single" && find . -type f | sort | comm -23 - <(cd "$T/out2" && find . -type f | sort) | wc -l)
[ "$expected" = "$(wc -l <"$T/failed.txt")" ] || fail "failed list has $(wc -l <"$T/failed.txt") entries, $expected outputs are missing"
cat >"$T/retry.sh" <<JOB
#!/bin/bash
#SBATCH --job-name=graypipe-retry
#SBATCH --ntasks=1
exec "$BIN" run --files-from "$T/failed.txt" --relative-to "$INPUT" -o "$T/out2" -w 1 -q \
    --report "$T/retry.json"
JOB
jid=$(timeout 30 sbatch --parsable --output="$T/logs/retry.out" "$T/retry.sh") || fail "sbatch refused the retry"
for _ in $(seq 1 600); do
    [ -z "$(timeout 10 squeue -h -j "$jid" -o %i 2>/dev/null || echo pending)" ] && break
    sleep 0.5
done
grep -q '"failed": 0' "$T/retry.json" || fail "the retry job failed files"
diff -r "$T/single" "$T/out2" >/dev/null || fail "array + retry tree differs from the single run"
echo "   array + retry byte-identical to the single run ($(find "$T/out2" -type f | wc -l) files)"
echo "== srun -n 2 in one allocation (no array): SLURM_PROCID/SLURM_NTASKS"
mkdir -p "$T/reports3"
cat >"$T/srun.sh" <<JOB
#!/bin/bash
#SBATCH --job-name=graypipe-srun
#SBATCH --ntasks=2
#SBATCH --cpus-per-task=1
srun -n 2 bash -c 'exec "$BIN" run "$INPUT" -o "$T/out3" -w 1 -q --shard auto --report "$T/reports3/task-\$SLURM_PROCID.json"'
JOB
jid=$(timeout 30 sbatch --parsable --output="$T/logs/srun.out" "$T/srun.sh") || fail "sbatch refused the srun job"
for _ in $(seq 1 600); do
    [ -z "$(timeout 10 squeue -h -j "$jid" -o %i 2>/dev/null || echo pending)" ] && break
    sleep 0.5
done
"$BIN" merge "$T"/reports3/*.json -o "$T/merged3.json" 2>"$T/merge3.err" || {
    cat "$T/merge3.err" "$T/logs/srun.out"
    fail "merge refused the srun tasks' reports"
}
grep -q '"count": 2' "$T/merged3.json" || fail "the srun tasks did not take N=2 from SLURM_NTASKS"
diff -r "$T/single" "$T/out3" >/dev/null || fail "srun -n 2 tree differs from the single run"
echo "   srun -n 2: 2 tasks merged complete, byte-identical to the single run"
echo "== examples/slurm/submit.sh: --array=0-7%2 (over-decomposed) and a dependent merge job"
REPO=$(cd "$(dirname "$0")/../.." && pwd)
line=$(GRAYPIPE="$BIN" timeout 60 bash "$REPO/examples/slurm/submit.sh" "$INPUT" "$T/ex/gray" 8 2 1) ||
    fail "examples/slurm/submit.sh failed"
echo "   $line"
mjid=$(echo "$line" | sed -n 's/.*merge job \([0-9]*\).*/\1/p')
[ -n "$mjid" ] || fail "no merge job id in: $line"
for _ in $(seq 1 900); do
    [ -z "$(timeout 10 squeue -h -j "$mjid" -o %i 2>/dev/null || echo pending)" ] && break
    sleep 0.5
done
grep -q '"complete": true' "$T/ex/gray-report.json" || {
    tail -20 "$T/ex/gray-merge.out"
    fail "the example's merge job did not write a complete report"
}
[ ! -s "$T/ex/gray-retry.txt" ] || fail "the example's retry list is not empty"
"$BIN" run "$INPUT" -o "$T/ex/single" -q --threshold otsu
diff -r "$T/ex/single" "$T/ex/gray" >/dev/null || fail "the example's tree differs from the single run"
echo "   8 shards, 2 at a time, merged by the dependent job: complete, byte-identical"
echo "PASS: Slurm array test"
