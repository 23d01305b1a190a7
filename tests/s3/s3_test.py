#!/usr/bin/env python3
"""graypipe on a real S3 server started here: moto's server mode on 127.0.0.1.

Usage: tests/s3/s3_test.py GRAYPIPE_BINARY INPUT_FOLDER

Checks, against one local run of the same folder:
  1. s3:// -> s3:// (with --report s3://...) gives byte-identical outputs; the report names the
     objects and counts every file;
  2. s3:// -> local and local -> s3:// likewise; --dry-run lists the remote names;
  3. --skip-existing works from the remote output's listing (nothing converted twice);
  4. two shards over s3:// merge complete and byte-identical;
  5. a missing bucket and a closed port fail with one line naming the input, exit 1;
  6. the server killed mid-run: graypipe exits 1 naming failed objects and never leaves a
     partial output; after the server is back (moto keeps no state: the inputs are uploaded
     again) a resume with --skip-existing completes the batch to the local run's bytes.
Needs boto3 and moto[server] (`pip install 'moto[server]'`); run by .ci/run.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

BIN = os.path.realpath(sys.argv[1])
INPUT = Path(sys.argv[2]).resolve()
BUCKET = "pics"


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """moto_server on 127.0.0.1:port, started and stopped by this script only."""

    def __init__(self, port):
        self.port = port
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["moto_server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        fail("moto_server did not start")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def client(port):
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


def upload_tree(s3, folder, prefix):
    n = 0
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            s3.upload_file(str(p), BUCKET, f"{prefix}/{p.relative_to(folder).as_posix()}")
            n += 1
    return n


def download_tree(s3, prefix, dest):
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=BUCKET, Prefix=prefix + "/"):
        for obj in page.get("Contents", []):
            rel = obj["Key"][len(prefix) + 1 :]
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(BUCKET, obj["Key"], str(target))


def count(s3, prefix):
    paginator = s3.get_paginator("list_objects_v2")
    return sum(len(p.get("Contents", [])) for p in paginator.paginate(Bucket=BUCKET, Prefix=prefix + "/"))


def tree(folder):
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def same_tree(a, b, what):
    ta, tb = tree(a), tree(b)
    if ta.keys() != tb.keys():
        fail(f"{what}: different files: {sorted(ta.keys() ^ tb.keys())[:5]}")
    bad = [k for k in ta if ta[k] != tb[k]]
    if bad:
        fail(f"{what}: {len(bad)} files differ, e.g. {bad[:3]}")
    print(f"   {what}: {len(ta)} files byte-identical to the local run")


def gp(*args, env, check=None, timeout=600):
    r = subprocess.run([BIN, *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check is not None and r.returncode != check:
        fail(f"graypipe {' '.join(args)} exited {r.returncode} (expected {check}):\n{r.stderr[-3000:]}")
    return r


def main():
    work = Path(tempfile.mkdtemp(prefix="graypipe-s3-"))
    port = free_port()
    server = Server(port)
    try:
        server.start()
        env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION="us-east-1",
            AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
            GRAYPIPE_RETRY_SECONDS="2",
        )
        s3 = client(port)
        s3.create_bucket(Bucket=BUCKET)
        n = upload_tree(s3, INPUT, "in")
        print(f"== moto_server on 127.0.0.1:{port}; {n} objects uploaded")

        gp("run", str(INPUT), "-o", str(work / "local"), "-q", "--threshold", "otsu", env=env, check=0)

        print("== s3:// -> s3:// with the report on S3")
        gp("run", f"s3://{BUCKET}/in", "-o", f"s3://{BUCKET}/out", "-q", "--threshold", "otsu",
           "--report", f"s3://{BUCKET}/reports/run.json", env=env, check=0)
        download_tree(s3, "out", work / "from-s3")
        same_tree(work / "local", work / "from-s3", "s3 -> s3")
        import json

        report = json.loads(s3.get_object(Bucket=BUCKET, Key="reports/run.json")["Body"].read())
        if report["files"]["failed"] != 0 or report["files"]["written"] != len(tree(work / "local")):
            fail(f"report counts wrong: {report['files']}")
        if not all(r["input"].startswith(f"s3://{BUCKET}/in/") for r in report["results"]):
            fail("report does not name the objects")

        print("== s3:// -> local and local -> s3://")
        gp("run", f"s3://{BUCKET}/in/", "-o", str(work / "s3-to-local"), "-q", "--threshold", "otsu", env=env, check=0)
        same_tree(work / "local", work / "s3-to-local", "s3 -> local")
        gp("run", str(INPUT), "-o", f"s3://{BUCKET}/out2", "-q", "--threshold", "otsu", env=env, check=0)
        download_tree(s3, "out2", work / "local-to-s3")
        same_tree(work / "local", work / "local-to-s3", "local -> s3")
        dry = gp("run", f"s3://{BUCKET}/in", "-o", f"s3://{BUCKET}/out", "--dry-run", env=env, check=0)
        if f"s3://{BUCKET}/in/" not in dry.stdout or f"-> s3://{BUCKET}/out/" not in dry.stdout:
            fail(f"dry run does not name the objects: {dry.stdout[:300]}")

        print("== --skip-existing from the remote listing")
        r = gp("run", f"s3://{BUCKET}/in", "-o", f"s3://{BUCKET}/out", "--skip-existing", "--json",
               "--threshold", "otsu", env=env, check=0)
        files = json.loads(r.stdout)["files"]
        if files["written"] != 0 or files["skipped"] != len(tree(work / "local")):
            fail(f"--skip-existing converted again: {files}")

        print("== two shards over s3://, merged")
        for k in (1, 2):
            gp("run", f"s3://{BUCKET}/in", "-o", f"s3://{BUCKET}/sharded", "-q", "--threshold", "otsu",
               "--shard", f"{k}/2", "--report", str(work / f"shard-{k}.json"), env=env, check=0)
        gp("merge", str(work / "shard-1.json"), str(work / "shard-2.json"), "-o", str(work / "merged.json"),
           env=env, check=0)
        download_tree(s3, "sharded", work / "sharded")
        same_tree(work / "local", work / "sharded", "2 shards s3 -> s3")

        print("== a missing bucket and a closed port fail clearly")
        r = gp("run", "s3://no-such-bucket/in", "-o", str(work / "none"), "-q", env=env, check=1)
        if "s3://no-such-bucket/in" not in r.stderr:
            fail(f"missing bucket not named: {r.stderr}")
        print("   " + r.stderr.strip().splitlines()[0])
        closed = dict(env, AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}")
        r = gp("run", f"s3://{BUCKET}/in", "-o", str(work / "none"), "-q", env=closed, check=1, timeout=120)
        print("   " + r.stderr.strip().splitlines()[0])

        print("== the server killed mid-run, then a resume")
        out = work / "resumed"
        proc = subprocess.Popen(
            [BIN, "run", f"s3://{BUCKET}/in", "-o", str(out), "-w", "1", "--threshold", "otsu"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and sum(1 for p in out.rglob("*") if p.is_file()) >= 20:
                break
            time.sleep(0.02)
        if proc.poll() is not None:
            fail("the run ended before the server could be killed")
        server.kill()
        try:
            _, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            fail("graypipe did not finish after the server was killed")
        if proc.returncode != 1:
            fail(f"exit {proc.returncode} after the server was killed (expected 1)\n{err[-2000:]}")
        named = [l for l in err.splitlines() if l.startswith(f"graypipe: error: s3://{BUCKET}/in/")]
        if not named:
            fail(f"no failed object named:\n{err[-2000:]}")
        done = [p for p in out.rglob("*") if p.is_file()]
        leftovers = [p for p in done if p.name.startswith(".graypipe")]
        if leftovers:
            fail(f"temporary files left: {leftovers[:3]}")
        print(f"   {len(done)} written before the kill; {len(named)} failed, e.g. {named[0][:160]}")
        server.start()
        s3 = client(port)
        s3.create_bucket(Bucket=BUCKET)
        upload_tree(s3, INPUT, "in")
        r = gp("run", f"s3://{BUCKET}/in", "-o", str(out), "--skip-existing", "--json", "--threshold", "otsu",
               env=env, check=0)
        files = json.loads(r.stdout)["files"]
        if files["skipped"] != len(done) or files["failed"] != 0:
            fail(f"resume did not skip exactly the finished files: {files}")
        same_tree(work / "local", out, "resumed after the kill")
        print("PASS: S3 test")
    finally:
        server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
