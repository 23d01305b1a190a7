"""Ctrl-C during run() and sweep(): a subprocess runs a long batch or sweep, gets SIGINT, and
must stop cleanly."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGINT to a subprocess")

FILES = 400

CHILD = textwrap.dedent(
    """
    import json, sys
    import graypipe
    src, out, mode = sys.argv[1:4]
    print("started", flush=True)
    if mode == "uncaught":
        graypipe.run(src, out, "adaptive-gaussian:31:2", workers=1, engine="serial",
                     png_compression="high")
        print("finished", flush=True)
        sys.exit(0)
    try:
        graypipe.run(src, out, "adaptive-gaussian:31:2", workers=1, engine="serial",
                     png_compression="high")
    except KeyboardInterrupt as e:
        print(json.dumps(e.report), flush=True)
        sys.exit(42)
    print("finished", flush=True)
    """
)


@pytest.fixture(scope="module")
def many_inputs(tmp_path_factory):
    """FILES pictures big enough that a one-worker run lasts seconds."""
    src = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(1)
    base = cv2.GaussianBlur(rng.integers(0, 256, (600, 800, 3), dtype=np.uint8), (9, 9), 0)
    for i in range(FILES):
        img = np.roll(base, i, axis=1)
        cv2.imwrite(str(src / f"p{i:04d}.png"), img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    return src


def start(src, out, mode):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(src), str(out), mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert child.stdout.readline().strip() == "started"
    time.sleep(0.5)  # inside the run: importing and planning are done
    if child.poll() is not None:
        pytest.fail(f"the run ended before the signal (make it longer): {child.communicate()}")
    child.send_signal(signal.SIGINT)
    return child


def test_sigint_cancels_the_run_outputs_complete_then_keyboardinterrupt(many_inputs, tmp_path):
    out = tmp_path / "out"
    child = start(many_inputs, out, "caught")
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 42, stderr
    report = json.loads(stdout.strip().splitlines()[-1])
    files = report["files"]
    assert files["planned"] == FILES and files["failed"] == 0
    assert files["not_started"] > 0, "cancelled runs leave files not started"
    assert files["written"] + files["not_started"] == FILES
    written = [r for r in report["results"] if r["status"] == "written"]
    assert len(written) == files["written"] > 0
    # Exactly the written files exist, each complete and with OpenCV's pixels; no temporaries.
    assert sorted(p.name for p in out.iterdir()) == sorted(os.path.basename(r["output"]) for r in written)
    for r in written:
        g = cv2.cvtColor(cv2.imread(r["input"]), cv2.COLOR_BGR2GRAY)
        want = cv2.adaptiveThreshold(g, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 31, 2)
        assert np.array_equal(cv2.imread(r["output"], cv2.IMREAD_GRAYSCALE), want), r["output"]


def test_uncaught_sigint_ends_python_as_the_cli_does(many_inputs, tmp_path):
    child = start(many_inputs, tmp_path / "out", "uncaught")
    stdout, stderr = child.communicate(timeout=120)
    assert "finished" not in stdout
    assert "KeyboardInterrupt" in stderr
    # Python ends on an uncaught KeyboardInterrupt by SIGINT: a shell sees 130, as for the CLI.
    assert child.returncode == -signal.SIGINT


SWEEP_CHILD = textwrap.dedent(
    """
    import sys
    import graypipe
    src, scratch = sys.argv[1:3]
    print("started", flush=True)
    try:
        graypipe.sweep(src, workers=[1, 2], threshold="adaptive-gaussian:31:2", warmup=0,
                       repeat=1000, scratch=scratch)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(42)
    print("finished", flush=True)
    """
)


def test_sigint_cancels_a_sweep_removes_its_folders_then_keyboardinterrupt(many_inputs, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", SWEEP_CHILD, str(many_inputs), str(scratch)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert child.stdout.readline().strip() == "started"
    # Inside a run: its temporary folder exists and has files.
    deadline = time.monotonic() + 60
    while not any(any(d.iterdir()) for d in scratch.iterdir()):
        if child.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"no sweep run started: {child.communicate()}")
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)
    # 2 x 1000 runs of 400 files would take hours: ending within the timeout means the run in
    # progress was cancelled.
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 42, stderr
    assert stdout.split() == ["interrupted"]
    assert list(scratch.iterdir()) == [], "temporary folders left behind"
