"""Shared fixtures: the OpenCV fixtures the Rust tests use, and the CLI binary if built."""

import json
import os
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "opencv"


def manifest():
    with open(FIXTURES / "manifest.json") as f:
        return json.load(f)


def input_files():
    return [FIXTURES / "inputs" / entry["file"] for entry in manifest()["inputs"]]


@pytest.fixture
def cli_binary():
    """graypipe's CLI (GRAYPIPE_BIN, or the one `cargo test` / `cargo build` left)."""
    candidates = [os.environ.get("GRAYPIPE_BIN")] + [
        str(REPO / "target" / profile / "graypipe") for profile in ("debug", "release")
    ]
    for c in candidates:
        if c and os.access(c, os.X_OK):
            return c
    pytest.skip("graypipe CLI binary not built (set GRAYPIPE_BIN or run cargo build)")
