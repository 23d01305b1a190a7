"""What a newcomer from cv2 trips over first: a missing input, cv2 constants, the README."""

import errno
import pathlib
import re

import numpy as np
import pytest

import graypipe

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_a_missing_input_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        graypipe.run(tmp_path / "nope", tmp_path / "out")
    assert e.value.errno == errno.ENOENT
    assert e.value.filename == str(tmp_path / "nope")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("constant", [8, 16, 0, 1, 127.0, True])
def test_cv2_constants_get_a_pointer_to_the_spec_grammar(constant):
    g = np.zeros((4, 4), np.uint8)
    with pytest.raises(TypeError, match="adaptive-gaussian:11:2"):
        graypipe.threshold(g, constant)


def test_run_refuses_a_cv2_constant_as_threshold(tmp_path):
    with pytest.raises(TypeError, match="'otsu'"):
        graypipe.run(ROOT / "sample_images" / "photos", tmp_path / "out", threshold=8)
    assert not (tmp_path / "out").exists()


def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks, "the README has a Python example"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sample_images").symlink_to(ROOT / "sample_images")
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert any((tmp_path / "py-out").iterdir())
