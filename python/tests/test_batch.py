"""run and sweep on temporary folders: the records, the outputs, the errors."""

import json
import shutil
import subprocess

import cv2
import numpy as np
import pytest

import graypipe
from conftest import input_files

NAMES = ["rgb8.png", "noise_97x61.png", "rgba8.png", "gray8.png", "ship_crop.png", "rgb24.bmp"]


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    by_name = {p.name: p for p in input_files()}
    for i, name in enumerate(NAMES):
        shutil.copy(by_name[name], (src / "sub" if i % 2 else src) / name)
    return src


def keys(value):
    """The shape of a JSON document: its keys, recursively (the first list item stands for all)."""
    if isinstance(value, dict):
        return {k: keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [keys(value[0])] if value else []
    return None


def test_run_writes_opencv_pixels_and_returns_the_report(folder, tmp_path):
    out = tmp_path / "out"
    report = graypipe.run(folder, out, "otsu", workers=2)
    assert report["files"] == {
        "planned": len(NAMES), "written": len(NAMES), "failed": 0, "skipped": 0, "not_started": 0,
    }
    assert report["engine"] == "staged" and report["workers"] == 2
    assert report["operation"] == "binary:otsu"
    assert len(report["results"]) == len(NAMES)
    for r in report["results"]:
        assert r["status"] == "written"
        src = cv2.cvtColor(cv2.imread(r["input"]), cv2.COLOR_BGR2GRAY)
        level, want = cv2.threshold(src, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
        got = cv2.imread(r["output"], cv2.IMREAD_GRAYSCALE)
        assert np.array_equal(got, want), r["input"]
        assert r["level"] == level
    # the tree is mirrored
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == sorted(
        (f"sub/{n}" if i % 2 else n).rsplit(".", 1)[0] + ".png" for i, n in enumerate(NAMES)
    )


@pytest.mark.parametrize("engine", ["staged", "rayon", "serial"])
def test_every_engine_writes_the_same_bytes(folder, tmp_path, engine):
    ref = tmp_path / "ref"
    graypipe.run(folder, ref, "adaptive-gaussian:11:2", workers=1, engine="serial")
    out = tmp_path / engine
    report = graypipe.run([folder], out, "adaptive-gaussian:11:2", workers=2, engine=engine)
    assert report["engine"] == engine and report["files"]["written"] == len(NAMES)
    for f in ref.rglob("*.png"):
        assert (out / f.relative_to(ref)).read_bytes() == f.read_bytes()


def test_run_report_has_the_cli_report_fields(folder, tmp_path, cli_binary):
    cli_report = tmp_path / "cli.json"
    subprocess.run(
        [cli_binary, "run", str(folder), "-o", str(tmp_path / "cli"), "--threshold", "127",
         "--workers", "2", "--quiet", "--report", str(cli_report)],
        check=True,
    )
    py_report = graypipe.run(folder, tmp_path / "py", "127", workers=2)
    with open(cli_report) as f:
        assert keys(py_report) == keys(json.load(f))


def test_failed_files_are_reported_not_raised(folder, tmp_path):
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    report = graypipe.run(folder, tmp_path / "out", workers=2)
    assert report["files"]["failed"] == 1 and report["files"]["written"] == len(NAMES)
    [failure] = report["failures"]
    assert failure["input"].endswith("broken.png") and failure["reason"]
    assert not (tmp_path / "out" / "broken.png").exists()


def test_skip_existing(folder, tmp_path):
    graypipe.run(folder, tmp_path / "out")
    again = graypipe.run(folder, tmp_path / "out", skip_existing=True)
    assert again["files"]["skipped"] == len(NAMES) and again["files"]["written"] == 0


def test_usage_errors_raise_graypipe_errors(folder, tmp_path):
    out = tmp_path / "out"
    cases = [
        dict(threshold="binary:x"),
        dict(engine="fast"),
        dict(engine="staged,rayon"),
        dict(workers=0),
        dict(in_flight=0),
        dict(format="gif"),
        dict(luma="srgb"),
        dict(bit_depth="4"),
        dict(png_compression="max"),
        dict(png_compression="best"),
    ]
    for kwargs in cases:
        with pytest.raises(graypipe.UsageError) as e:
            graypipe.run(folder, out, **kwargs)
        assert isinstance(e.value, graypipe.Error), kwargs
    with pytest.raises(graypipe.UsageError, match="no inputs"):
        graypipe.run([], out)
    with pytest.raises(graypipe.RefusedError, match="inside input folder"):
        graypipe.run(folder, folder / "out")
    assert not out.exists()


def test_sweep_returns_the_export_json_record(folder, tmp_path):
    record = graypipe.sweep(folder, workers=[1, 2], engines=["staged", "serial"], threshold="otsu",
                            warmup=0, repeat=1, scratch=tmp_path)
    assert record["job"]["files"] == len(NAMES) and record["job"]["operation"] == "binary:otsu"
    points = {(p["engine"], p["workers"]) for p in record["points"]}
    assert points == {("staged", 1), ("staged", 2), ("serial", 1)}
    for p in record["points"]:
        assert len(p["runs"]) == 1 and p["runs"][0]["files"] == len(NAMES)
        assert p["runs"][0]["wall_seconds"] > 0
    assert record["analysis"]
    with pytest.raises(graypipe.UsageError):
        graypipe.sweep(folder, workers="0")
    with pytest.raises(graypipe.UsageError):
        graypipe.sweep(folder, engines="warp")
    with pytest.raises(graypipe.UsageError, match="'same', 'serial'"):
        graypipe.sweep(folder, baseline="best")
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "x").write_text("x")
    with pytest.raises(graypipe.RefusedError, match="not empty"):
        graypipe.sweep(folder, keep_output=keep, warmup=0, repeat=1)


def test_sweep_record_has_the_cli_export_fields(folder, tmp_path, cli_binary):
    cli_json = tmp_path / "cli.json"
    subprocess.run(
        # The same schedule as the Python call (one run per point, no minimum time): with one
        # run the intervals are null, so the record's shape depends on it.
        [cli_binary, "sweep", str(folder), "--workers", "1,2", "--warmup", "0", "--repeat", "1",
         "--min-time", "0", "--max-runs", "1", "--export-json", str(cli_json)],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    record = graypipe.sweep(folder, workers="1,2", warmup=0, repeat=1)
    with open(cli_json) as f:
        assert_same_shape(record, json.load(f), "record")


def assert_same_shape(a, b, where):
    """Both documents have the same keys wherever both hold a value. A null or empty value on
    either side matches anything: which fits and intervals exist depends on the timings (a
    gate that closes on a loaded machine leaves a null), not on the schema."""
    if a is None or b is None or a == [] or b == []:
        return
    if isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), f"{where}: {sorted(set(a) ^ set(b))}"
        for k in a:
            assert_same_shape(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert_same_shape(a[0], b[0], f"{where}[0]")
    else:
        assert isinstance(a, dict) == isinstance(b, dict), where
