"""Type stubs of the native module (use the wrappers in graypipe instead)."""

from typing import Any, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

def gray(img: npt.NDArray[np.uint8], luma: str = "bt601") -> npt.NDArray[np.uint8]: ...
def threshold(
    gray: npt.NDArray[np.uint8], spec: str, maxval: float = 255.0
) -> Tuple[Optional[float], npt.NDArray[np.uint8]]: ...
def imread(path: str, gray: bool = False, max_pixels: Optional[int] = None) -> npt.NDArray[np.uint8]: ...
def _run(
    inputs: List[str], output: str, threshold: Optional[str], maxval: float,
    workers: Optional[int], engine: str, in_flight: Optional[int], luma: str, format: str,
    bit_depth: str, png_compression: str, max_pixels: Optional[int], follow_links: bool,
    skip_existing: bool, fail_fast: bool, shard: Optional[Tuple[int, int]] = None,
    shard_by: str = "size", files: Optional[List[str]] = None,
) -> Tuple[str, Optional[BaseException]]: ...
def _plan(
    inputs: List[str], output: str, follow_links: bool, skip_existing: bool, format: str,
) -> Tuple[List[Tuple[str, str, int]], List[Tuple[str, str]], List[Tuple[str, str]]]: ...
def _merge(reports: List[Tuple[str, str]]) -> str: ...
def _sweep(
    inputs: List[str], workers: Optional[str], engines: str, threshold: Optional[str], maxval: float,
    in_flight: Optional[int], warmup: int, repeat: int, baseline: str,
    keep_output: Optional[str], scratch: Optional[str], luma: str, format: str,
    bit_depth: str, png_compression: str, max_pixels: Optional[int], follow_links: bool,
) -> str: ...
