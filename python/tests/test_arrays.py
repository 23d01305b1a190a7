"""gray, threshold and imread against OpenCV, bit for bit, on the Rust tests' fixtures."""

import re

import cv2
import numpy as np
import pytest

import graypipe
from conftest import FIXTURES, input_files, manifest

INPUTS = input_files()
IDS = [p.name for p in INPUTS]
# Indices of the manifest's ops other than gray (the committed stacks are in manifest order).
THRESHOLD_OPS = [k for k, op in enumerate(manifest()["ops"]) if op["spec"] != "gray"]

TYPES = {
    "binary": cv2.THRESH_BINARY,
    "binary-inv": cv2.THRESH_BINARY_INV,
    "trunc": cv2.THRESH_TRUNC,
    "tozero": cv2.THRESH_TOZERO,
    "tozero-inv": cv2.THRESH_TOZERO_INV,
}


def opencv_threshold(g, spec, maxval):
    """(level or None, out) from OpenCV for a graypipe SPEC."""
    parts = spec.split(":")
    if len(parts) == 1:
        parts = ["binary", parts[0]]
    if len(parts) == 3:
        name, block, c = parts
        method = cv2.ADAPTIVE_THRESH_MEAN_C if "mean" in name else cv2.ADAPTIVE_THRESH_GAUSSIAN_C
        kind = cv2.THRESH_BINARY_INV if name.endswith("-inv") else cv2.THRESH_BINARY
        return None, cv2.adaptiveThreshold(g, maxval, method, kind, int(block), float(c))
    name, level = parts
    flag = TYPES[name]
    if level == "otsu":
        return cv2.threshold(g, 0, maxval, flag | cv2.THRESH_OTSU)
    if level == "triangle":
        return cv2.threshold(g, 0, maxval, flag | cv2.THRESH_TRIANGLE)
    return cv2.threshold(g, float(level), maxval, flag)


@pytest.mark.parametrize("path", INPUTS, ids=IDS)
def test_imread_is_cv2_imread(path):
    want = cv2.imread(str(path))
    got = graypipe.imread(path)
    assert got.dtype == np.uint8 and got.shape == want.shape
    assert np.array_equal(got, want)


@pytest.mark.parametrize("path", INPUTS, ids=IDS)
def test_imread_gray_is_imread_grayscale(path):
    # gray=True is cv2.imread(path, cv2.IMREAD_GRAYSCALE), the decoder's own gray.
    want = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert np.array_equal(graypipe.imread(str(path), gray=True), want)


@pytest.mark.parametrize("entry", manifest()["inputs"], ids=IDS)
def test_gray_matches_cvtcolor_and_the_committed_fixture(entry):
    bgr = cv2.imread(str(FIXTURES / "inputs" / entry["file"]))
    want = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    got = graypipe.gray(bgr)
    assert got.dtype == np.uint8 and got.shape == want.shape
    assert np.array_equal(got, want)
    # The committed fixture stacks every op's result (manifest order) vertically; op 0 is gray.
    assert np.array_equal(got, committed(entry, 0))


def committed(entry, k):
    """Op k's block of the committed OpenCV result for a manifest input."""
    stack = cv2.imread(str(FIXTURES / "expected" / entry["expected"]), cv2.IMREAD_UNCHANGED)
    h = entry["height"]
    assert stack.shape == (h * len(manifest()["ops"]), entry["width"])
    return stack[k * h:(k + 1) * h]


def test_gray_of_bgra_random_and_gray_inputs():
    rng = np.random.default_rng(7)
    for h, w in [(1, 1), (3, 17), (61, 97), (128, 333)]:
        bgra = rng.integers(0, 256, (h, w, 4), dtype=np.uint8)
        assert np.array_equal(graypipe.gray(bgra), cv2.cvtColor(bgra, cv2.COLOR_BGRA2GRAY))
        bgr = np.ascontiguousarray(bgra[:, :, :3])
        assert np.array_equal(graypipe.gray(bgr), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
        # BT.709 has no OpenCV counterpart: the library's fixed-point formula, in NumPy.
        b, g_, r = (bgr[:, :, i].astype(np.uint32) for i in range(3))
        want709 = ((6966 * r + 23436 * g_ + 2366 * b + (1 << 14)) >> 15).astype(np.uint8)
        assert np.array_equal(graypipe.gray(bgr, luma="bt709"), want709)
        g = bgra[:, :, 0].copy()
        out = graypipe.gray(g)
        assert np.array_equal(out, g) and not np.shares_memory(out, g)


def test_non_contiguous_inputs_give_the_same_pixels():
    rng = np.random.default_rng(3)
    big = rng.integers(0, 256, (80, 120, 3), dtype=np.uint8)
    view = big[5:70:2, 3:100:3]  # strided in both directions
    assert not view.flags.c_contiguous
    assert np.array_equal(graypipe.gray(view), cv2.cvtColor(np.ascontiguousarray(view), cv2.COLOR_BGR2GRAY))
    g = cv2.cvtColor(big, cv2.COLOR_BGR2GRAY)[::-1, ::2]
    level, out = graypipe.threshold(g, "otsu")
    want_level, want = cv2.threshold(np.ascontiguousarray(g), 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    assert level == want_level and np.array_equal(out, want)


@pytest.mark.parametrize("k", THRESHOLD_OPS, ids=[f"{o['spec']}@{o['maxval']}" for o in (manifest()["ops"][k] for k in THRESHOLD_OPS)])
def test_threshold_matches_opencv_on_every_fixture(k):
    op = manifest()["ops"][k]
    spec, maxval = op["spec"], op["maxval"]
    for entry in manifest()["inputs"]:
        path = FIXTURES / "inputs" / entry["file"]
        g = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2GRAY)
        want_level, want = opencv_threshold(g, spec, maxval)
        level, got = graypipe.threshold(g, spec, maxval)
        assert got.dtype == np.uint8 and got.shape == g.shape, path.name
        assert np.array_equal(got, want), f"{path.name}: {spec} maxval {maxval}"
        assert level == want_level, f"{path.name}: {spec} level {level} != {want_level}"
        # and the result OpenCV gave when the fixtures were made
        assert np.array_equal(got, committed(entry, k)), f"{path.name}: {spec} vs fixture"


def test_threshold_leaves_its_input_alone():
    g = np.arange(256, dtype=np.uint8).reshape(16, 16)
    before = g.copy()
    _, out = graypipe.threshold(g, "binary:100")
    assert np.array_equal(g, before) and not np.shares_memory(out, g)


def test_threshold_outputs_own_their_memory_while_buffers_are_recycled():
    """Outputs come from recycled buffers: one still alive (even only through a view) must
    never be handed out again, and a recycled one must carry no old pixels."""
    import gc

    rng = np.random.default_rng(5)
    big = rng.integers(0, 256, (300, 400), dtype=np.uint8)
    _, out = graypipe.threshold(big, "otsu")
    assert out.flags.writeable and out.flags.c_contiguous
    want_view = out[10:20, 30:60].copy()
    view = out[10:20, 30:60]
    del out
    gc.collect()
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in [(300, 400), (50, 70), (299, 401)] * 20]
    results = []
    for spec in ("otsu", "binary-inv:90", "tozero:triangle", "adaptive-mean:5:3"):
        for g in images:
            got = graypipe.threshold(g, spec)
            want = opencv_threshold(g, spec, 255)
            assert np.array_equal(got[1], want[1]), (spec, g.shape)
            results.append((got[1], want[1]))  # alive: their buffers may not be reused
        for got, want in results:
            assert np.array_equal(got, want), spec
        results.clear()  # freed: their buffers go back to the pool for the next spec
        gc.collect()
    assert np.array_equal(view, want_view), "a live view's pixels were overwritten"
    view[0, 0] ^= 1  # still writeable through the view


@pytest.mark.parametrize(
    "bad, pattern",
    [
        (np.zeros((4, 4, 3), dtype=np.float32), r"uint8.*float32"),
        (np.zeros((4, 4, 2), dtype=np.uint8), r"H x W x 3 BGR.*\(4, 4, 2\)"),
        (np.zeros((4,), dtype=np.uint8), r"H x W x 3 BGR.*\(4,\)"),
        (np.zeros((0, 4, 3), dtype=np.uint8), r"non-empty"),
        ([[1, 2], [3, 4]], r"NumPy uint8 array.*list"),
    ],
)
def test_gray_rejects_what_it_cannot_take(bad, pattern):
    with pytest.raises(ValueError, match=pattern):
        graypipe.gray(bad)


def test_threshold_rejects_colour_other_dtypes_and_bad_specs():
    with pytest.raises(ValueError, match=r"2-D gray uint8 array.*\(4, 4, 3\)"):
        graypipe.threshold(np.zeros((4, 4, 3), np.uint8), "otsu")
    with pytest.raises(ValueError, match=r"uint8.*int64"):
        graypipe.threshold(np.zeros((4, 4), np.int64), "otsu")
    for spec in ["", "binary:x", "adaptive-mean:4:2", "nope:1", "a:b:c:d"]:
        with pytest.raises(graypipe.UsageError, match=re.escape(f"invalid threshold '{spec}'")) as e:
            graypipe.threshold(np.zeros((4, 4), np.uint8), spec)
        assert isinstance(e.value, ValueError) and isinstance(e.value, graypipe.Error)
        assert "expected one of" in str(e.value)
    with pytest.raises(graypipe.UsageError, match="luma"):
        graypipe.gray(np.zeros((2, 2, 3), np.uint8), luma="srgb")


def test_imread_errors_name_the_file(tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(graypipe.ImageError, match=re.escape(str(missing))) as e:
        graypipe.imread(missing)
    assert isinstance(e.value, OSError) and isinstance(e.value, graypipe.Error)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"this is not an image")
    with pytest.raises(graypipe.ImageError, match="not a supported image"):
        graypipe.imread(junk)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(graypipe.ImageError, match="empty file"):
        graypipe.imread(empty)
    with pytest.raises(graypipe.ImageError, match="folder"):
        graypipe.imread(tmp_path)
    big = FIXTURES / "inputs" / "noise_97x61.png"
    with pytest.raises(graypipe.ImageError, match="over the decode limit"):
        graypipe.imread(big, max_pixels=100)


def _main_thread_runs_during(call):
    """Run `call` on another thread; return (fraction of the call's span during which this
    thread kept running Python, the call's seconds). Holding the GIL for the whole call would
    keep this thread out except for at most a switch interval at either end."""
    import threading
    import time

    span = {}

    def worker():
        span["start"] = time.perf_counter()
        call()
        span["end"] = time.perf_counter()

    t = threading.Thread(target=worker)
    stamps = []
    t.start()
    while t.is_alive():
        stamps.append(time.perf_counter())
    t.join()
    inside = [s for s in stamps if span["start"] < s < span["end"]]
    length = span["end"] - span["start"]
    covered = (max(inside) - min(inside)) / length if len(inside) > 1 else 0.0
    return covered, length


@pytest.mark.parametrize("what", ["gray", "threshold", "imread"])
def test_the_gil_is_released_while_working(what, tmp_path):
    rng = np.random.default_rng(5)
    big = rng.integers(0, 256, (3000, 3000, 3), dtype=np.uint8)
    g = cv2.cvtColor(big, cv2.COLOR_BGR2GRAY)
    path = tmp_path / "big.png"
    cv2.imwrite(str(path), big)
    # One long call, not many short ones: 96 megapixels, about 0.1 s on a fast core (48 took
    # 0.049 s on an idle machine, under the 0.05 s this check needs to tell).
    wide = np.zeros((8000, 12000, 3), dtype=np.uint8)
    calls = {
        "gray": lambda: graypipe.gray(wide),
        "threshold": lambda: graypipe.threshold(g, "adaptive-gaussian:51:2"),
        "imread": lambda: graypipe.imread(path),
    }
    covered, seconds = _main_thread_runs_during(calls[what])
    assert seconds > 0.05, "call too short to tell"
    assert covered > 0.5, f"main thread ran during {covered:.0%} of {seconds:.3f} s"


def test_the_gil_check_detects_a_call_that_holds_the_gil():
    # The control: bytes.count runs in C without releasing the GIL.
    data = bytes(300_000_000)
    covered, seconds = _main_thread_runs_during(lambda: data.count(b"\x01"))
    assert seconds > 0.05
    assert covered < 0.5, f"main thread ran during {covered:.0%} of {seconds:.3f} s"
