"""Hostile sizes and counts from Python: every one raises MemoryError, ValueError or a
graypipe.Error subclass; none aborts the interpreter or raises PanicException."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import graypipe
from graypipe import _graypipe


@pytest.fixture
def one_picture(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.pgm").write_bytes(b"P5 2 2 255\n\x00\x40\x80\xff")
    return src


@pytest.mark.parametrize("workers", [2**63, 2**64 + 5, 100_000, 1025, 0, -1, True, 1.5, "2"])
def test_run_workers_outside_the_cli_bounds_raise_usage_errors(one_picture, tmp_path, workers):
    with pytest.raises(graypipe.UsageError) as e:
        graypipe.run(one_picture, tmp_path / "out", workers=workers)
    assert isinstance(e.value, ValueError)
    assert not (tmp_path / "out").exists()


def test_run_workers_at_the_cli_cap_runs(one_picture, tmp_path):
    report = graypipe.run(one_picture, tmp_path / "out", workers=1024)
    assert report["files"]["written"] == 1


def test_the_native_run_checks_its_counts_too(one_picture, tmp_path):
    # Past the Python wrapper: 2**63 fits a usize and used to panic (PanicException).
    args = dict(
        inputs=[str(one_picture)], output=str(tmp_path / "out"), threshold=None, maxval=255.0,
        engine="staged", in_flight=None, luma="bt601", format="png", bit_depth="auto",
        png_compression="fast", max_pixels=None, follow_links=False, skip_existing=False,
        fail_fast=False,
    )
    for workers in (2**63, 100_000):
        with pytest.raises(graypipe.Error):
            _graypipe._run(workers=workers, **args)
    with pytest.raises(graypipe.Error):
        _graypipe._run(workers=1, **{**args, "in_flight": 2**63})


@pytest.mark.parametrize("maxval", [float("nan"), float("inf"), -float("inf"), 10**400, "x", None])
def test_maxval_that_is_not_a_finite_number_raises(one_picture, tmp_path, maxval):
    with pytest.raises(ValueError):
        graypipe.run(one_picture, tmp_path / "out", "otsu", maxval=maxval)
    with pytest.raises(ValueError):
        graypipe.threshold(np.zeros((2, 2), np.uint8), "otsu", maxval)
    with pytest.raises(ValueError):
        graypipe.sweep(one_picture, workers=1, maxval=maxval, repeat=1, warmup=0)
    with pytest.raises(graypipe.UsageError):
        _graypipe.threshold(np.zeros((2, 2), np.uint8), "otsu", float("nan"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "kwargs",
    [dict(repeat=0), dict(repeat=2**63), dict(warmup=-1), dict(warmup=2**63),
     dict(in_flight=0), dict(in_flight=2**70), dict(max_pixels=0), dict(max_pixels=2**64)],
)
def test_sweep_counts_are_bounded(one_picture, kwargs):
    with pytest.raises(graypipe.UsageError):
        graypipe.sweep(one_picture, workers=1, **{"repeat": 1, "warmup": 0, **kwargs})


def test_imread_max_pixels_is_checked(one_picture):
    for bad in (0, -1, 2**64):
        with pytest.raises(graypipe.UsageError):
            graypipe.imread(one_picture / "a.pgm", max_pixels=bad)


def test_outputs_too_large_to_allocate_raise_memory_error():
    # Broadcast views: a few bytes of memory behind terabytes of logical pixels.
    colour = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (2**21, 2**21, 3))
    with pytest.raises(MemoryError):
        graypipe.gray(colour)
    plane = np.broadcast_to(np.zeros((1, 1), np.uint8), (2**21, 2**21))
    with pytest.raises(MemoryError):
        graypipe.threshold(plane, "otsu")
    with pytest.raises(MemoryError):
        graypipe.gray(plane)
    # Still usable afterwards.
    assert graypipe.threshold(np.full((2, 2), 200, np.uint8), "128")[1].tolist() == [[255, 255]] * 2


def test_an_address_space_limit_gives_memory_error_not_an_abort():
    # Under ulimit -v (RLIMIT_AS) the output of a 300 MB image cannot be allocated where
    # NumPy itself could still hold the input: graypipe raises MemoryError as NumPy does.
    script = textwrap.dedent(
        """
        import resource
        import numpy as np
        import graypipe
        img = np.zeros((15000, 20000), np.uint8)
        img[0, 0] = 1
        gray3 = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (15000, 20000, 3))
        with open("/proc/self/status") as f:
            vm = next(int(l.split()[1]) for l in f if l.startswith("VmSize:")) * 1024
        limit = vm + (100 << 20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        for call in (lambda: graypipe.threshold(img, "otsu"), lambda: graypipe.gray(gray3)):
            try:
                call()
                print("allocated")
            except MemoryError:
                print("MemoryError")
        print("alive")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["MemoryError", "MemoryError", "alive"], done.stdout + done.stderr
