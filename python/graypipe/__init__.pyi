"""Type stubs of graypipe (docstrings live in graypipe/__init__.py)."""

import os
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from ._errors import Error as Error
from ._errors import ImageError as ImageError
from ._errors import RefusedError as RefusedError
from ._errors import UsageError as UsageError

__version__: str

_PathLike = Union[str, os.PathLike[str]]
_U8 = npt.NDArray[np.uint8]

def gray(img: _U8, luma: str = "bt601") -> _U8: ...
def threshold(gray: _U8, spec: str, maxval: float = 255) -> Tuple[Optional[float], _U8]: ...
def imread(path: _PathLike, gray: bool = False, max_pixels: Optional[int] = None) -> _U8: ...
def run(
    inputs: Union[_PathLike, Iterable[_PathLike]],
    output: _PathLike,
    threshold: Optional[str] = None,
    workers: Optional[int] = None,
    engine: Optional[str] = None,
    *,
    maxval: float = 255,
    in_flight: Optional[int] = None,
    luma: str = "bt601",
    format: str = "png",
    bit_depth: str = "auto",
    png_compression: str = "fast",
    max_pixels: Optional[int] = None,
    follow_links: bool = False,
    skip_existing: bool = False,
    fail_fast: bool = False,
    shard: Optional[Tuple[int, int]] = None,
    shard_by: str = "size",
    files: Optional[Iterable[_PathLike]] = None,
) -> Dict[str, Any]: ...
def plan(
    inputs: Union[_PathLike, Iterable[_PathLike]],
    output: _PathLike,
    *,
    format: str = "png",
    follow_links: bool = False,
    skip_existing: bool = False,
) -> Dict[str, Any]: ...
def merge(reports: Iterable[Union[Dict[str, Any], _PathLike]]) -> Dict[str, Any]: ...
def sweep(
    inputs: Union[_PathLike, Iterable[_PathLike]],
    workers: Union[str, int, Sequence[int], None] = None,
    engines: Union[str, Sequence[str]] = "staged",
    threshold: Optional[str] = None,
    *,
    maxval: float = 255,
    in_flight: Optional[int] = None,
    warmup: int = 1,
    repeat: int = 3,
    baseline: str = "same",
    keep_output: Optional[_PathLike] = None,
    scratch: Optional[_PathLike] = None,
    luma: str = "bt601",
    format: str = "png",
    bit_depth: str = "auto",
    png_compression: str = "fast",
    max_pixels: Optional[int] = None,
    follow_links: bool = False,
) -> Dict[str, Any]: ...
