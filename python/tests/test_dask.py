"""graypipe.plan / run(shard=, files=) / merge, and graypipe.dask on a real LocalCluster with
several worker processes, one of them killed while it runs a piece."""

import os
import shutil
import signal
import time

import pytest

import graypipe

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIP = os.path.join(REPO, "sample_images", "book", "ship.jpg")


def tree(folder):
    out = {}
    for root, _, names in os.walk(folder):
        for n in names:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, folder)] = f.read()
    return out


@pytest.fixture
def photos(tmp_path):
    """24 copies of ship.jpg (1577 x 1118) in two nested folders: a few seconds of work."""
    src = tmp_path / "in"
    for sub in ("a", "b/c"):
        (src / sub).mkdir(parents=True)
        for i in range(12):
            shutil.copy(SHIP, src / sub / f"ship{i:02}.jpg")
    return src


def test_plan_lists_what_run_converts(photos, tmp_path):
    listing = graypipe.plan(photos, tmp_path / "out")
    assert len(listing["jobs"]) == 24 and not listing["errors"]
    assert all(j["bytes"] == os.path.getsize(SHIP) for j in listing["jobs"])
    assert listing["jobs"][0]["output"].endswith(".png")


def test_pieces_by_shard_and_by_files_equal_one_run(photos, tmp_path):
    whole = graypipe.run(photos, tmp_path / "whole", threshold="otsu", workers=1)
    reports = [
        graypipe.run(photos, tmp_path / "sharded", threshold="otsu", workers=1, shard=(k, 3))
        for k in (1, 2, 3)
    ]
    merged = graypipe.merge(reports)
    assert merged["complete"], merged["problems"]
    assert merged["files"]["written"] == whole["files"]["written"] == 24
    assert tree(tmp_path / "sharded") == tree(tmp_path / "whole")
    # A missing piece is named.
    partial = graypipe.merge(reports[:2])
    assert not partial["complete"]
    assert any(p["problem"] == "missing" for p in partial["problems"]), partial["problems"]
    # files=: only those inputs, named as the whole run names them.
    jobs = graypipe.plan(photos, tmp_path / "byfiles")["jobs"]
    for chunk in (jobs[:10], jobs[10:]):
        r = graypipe.run(photos, tmp_path / "byfiles", threshold="otsu", workers=1,
                         files=[j["input"] for j in chunk])
        assert r["files"]["written"] == len(chunk)
    assert tree(tmp_path / "byfiles") == tree(tmp_path / "whole")


def test_bad_shard_is_a_usage_error(photos, tmp_path):
    with pytest.raises(graypipe.UsageError):
        graypipe.run(photos, tmp_path / "o", shard=(0, 2))
    with pytest.raises(graypipe.UsageError):
        graypipe.run(photos, tmp_path / "o", shard=(1, 2), shard_by="pixels?")


def test_dask_local_cluster_with_a_worker_killed_mid_run(photos, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    import graypipe.dask as gdask

    whole = tmp_path / "whole"
    graypipe.run(photos, whole, threshold="adaptive-gaussian:31:5", workers=1)
    with distributed.LocalCluster(
        n_workers=3, threads_per_worker=1, processes=True, dashboard_address=None,
        worker_class=distributed.Nanny,
    ) as cluster, distributed.Client(cluster) as client:
        futures, n = gdask.submit(
            photos, tmp_path / "out", client=client, pieces=12,
            threshold="adaptive-gaussian:31:5",
        )
        assert n == 12
        # Kill a worker process while it is running a piece (a SIGKILL: no clean-up).
        killed = None
        deadline = time.monotonic() + 120
        while killed is None and time.monotonic() < deadline:
            busy = {w: tasks for w, tasks in client.processing().items() if tasks}
            done = sum(f.status == "finished" for f in futures)
            if busy and done >= 1:
                victim = sorted(busy)[0]
                pid = client.run(os.getpid, workers=[victim])[victim]
                os.kill(pid, signal.SIGKILL)
                killed = (victim, pid, done)
            time.sleep(0.01)
        assert killed is not None, "no worker was busy to kill"
        assert killed[2] < n, "the batch finished before the kill"
        distributed.wait(futures, timeout=300)
        reports = [f.result() for f in futures]
        merged = graypipe.merge(reports)
        assert killed[1] not in {r["dask_worker_pid"] for r in reports}
    assert merged["complete"], merged["problems"]
    assert merged["files"]["written"] == 24 and merged["files"]["failed"] == 0
    assert tree(tmp_path / "out") == tree(whole)
    assert not [p for p in tree(tmp_path / "out") if os.path.basename(p).startswith(".graypipe")]


def test_dask_run_merges_and_writes_the_report(photos, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    import graypipe.dask as gdask

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        merged = gdask.run(photos, tmp_path / "out", client=client, report=tmp_path / "merged.json")
    assert merged["complete"], merged["problems"]
    assert merged["dask"]["pieces"] == 8  # 4 per worker thread
    assert merged["files"]["written"] == 24
    assert (tmp_path / "merged.json").is_file()
