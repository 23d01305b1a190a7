"""graypipe: OpenCV-exact gray conversion and thresholds on NumPy arrays, and parallel batch
runs over folders of pictures, from a native (Rust) extension.

Array functions (``gray``, ``threshold``, ``imread``) release the GIL while they work, so
several Python threads (e.g. a ``concurrent.futures.ThreadPoolExecutor``) run them on several
cores at once. ``run`` converts whole folders on graypipe's own worker threads and returns the
same record ``graypipe run --report`` writes; ``sweep`` measures scaling and returns the
``graypipe sweep --export-json`` record.

Pixels are bit-for-bit those of ``cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)`` and
``cv2.threshold`` / ``cv2.adaptiveThreshold``.
"""

from __future__ import annotations

import errno
import json
import math
import operator
import numbers
import os
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple, Union

import numpy as np

from . import _graypipe
from ._errors import Error, ImageError, RefusedError, UsageError

__all__ = [
    "gray",
    "threshold",
    "imread",
    "run",
    "sweep",
    "plan",
    "merge",
    "Error",
    "UsageError",
    "RefusedError",
    "ImageError",
    "__version__",
]

__version__: str = _graypipe.__version__

PathLike = Union[str, "os.PathLike[str]"]

# The CLI's bounds: --workers 1..=1024, --in-flight 1..=65536, --repeat 1..=100000.
_MAX_WORKERS = 1024
_MAX_IN_FLIGHT = 65536
_MAX_RUNS = 100_000
_MAX_U64 = 2**64 - 1


def _count(name: str, value: Any, low: int, high: int) -> Any:
    """``value`` as an int in ``low..=high`` (``None`` passes), else ``UsageError``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise UsageError(f"{name} must be a whole number, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise UsageError(f"{name} must be a whole number, got {value!r}") from None
    if not low <= n <= high:
        raise UsageError(f"{name} must be in {low}..={high}, got {n}")
    return n


def _maxval(value: Any) -> float:
    """``value`` as a finite float, else ``UsageError`` (NaN, infinities, numbers too large
    for a float, non-numbers)."""
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"maxval must be a finite number, got {value!r}") from None
    if not math.isfinite(v):
        raise UsageError(f"maxval must be a finite number, got {value!r}")
    return v


def gray(img: np.ndarray, luma: str = "bt601") -> np.ndarray:
    """Convert an image to gray, as ``cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)``.

    ``img`` is a NumPy ``uint8`` array: H x W x 3 (BGR, as OpenCV gives), H x W x 4 (BGRA, the
    alpha ignored, as ``COLOR_BGRA2GRAY``) or H x W (already gray: a copy is returned).
    ``luma`` is ``"bt601"`` (OpenCV's weights, bit-exact) or ``"bt709"``.

    Returns a new H x W ``uint8`` array. The GIL is released while converting; a C-contiguous
    input is read in place, any other is copied first.

    Raises ``ValueError`` for another dtype or shape, ``graypipe.UsageError`` for an unknown luma.
    """
    return _graypipe.gray(img, luma)


def threshold(gray: np.ndarray, spec: str, maxval: float = 255) -> Tuple[Optional[float], np.ndarray]:
    """Threshold a gray image with the CLI's ``--threshold SPEC`` grammar.

    ``spec`` is ``TYPE:LEVEL`` (TYPE ``binary``, ``binary-inv``, ``trunc``, ``tozero`` or
    ``tozero-inv``; LEVEL a number, ``otsu`` or ``triangle``), ``adaptive-mean[-inv]:B:C``,
    ``adaptive-gaussian[-inv]:B:C``, or the shorthands ``otsu``, ``triangle``, ``NUMBER``
    (``binary:...``). ``maxval`` is the value given to pixels that pass.

    Returns ``(level, out)``: ``level`` is what ``cv2.threshold`` returns (a fixed level
    floored, as OpenCV does for 8-bit images; the level Otsu or Triangle chose), ``None`` for
    the adaptive methods (``cv2.adaptiveThreshold`` returns no level); ``out`` a new H x W
    ``uint8`` array, bit for bit ``cv2.threshold(gray, T, maxval, THRESH_...)`` /
    ``cv2.adaptiveThreshold(gray, maxval, ADAPTIVE_THRESH_..., THRESH_BINARY[_INV], B, C)``.

    The GIL is released while thresholding.

    Raises ``ValueError`` unless ``gray`` is a 2-D (or H x W x 1) ``uint8`` array,
    ``graypipe.UsageError`` (a ``ValueError`` too) for a bad SPEC, listing the grammar, and
    ``TypeError`` for a SPEC that is not text (cv2's integer constants: the message gives the
    SPEC to write instead).
    """
    return _graypipe.threshold(gray, _spec(spec), _maxval(maxval))


def imread(path: PathLike, gray: bool = False, max_pixels: Optional[int] = None) -> np.ndarray:
    """Read an image file as ``cv2.imread(path)`` does (``IMREAD_COLOR``).

    Returns an H x W x 3 ``uint8`` BGR array: gray files replicated to three channels, alpha
    dropped, 16-bit samples reduced as OpenCV's decoder for the format does, EXIF orientation
    applied. The format comes from the content (JPEG, PNG, BMP, TIFF, WebP, GIF, PNM).
    Bit-exact with ``cv2.imread`` on the PNG, BMP, TIFF and PNM test fixtures; JPEG goes
    through libjpeg-turbo with OpenCV's settings (exact on the Rust side's JPEG fixtures).

    ``gray=True`` returns H x W: ``cv2.imread(path, cv2.IMREAD_GRAYSCALE)``, the decoder's own
    gray (libjpeg's luma-only decode for JPEG, libpng's weights for PNG).

    ``max_pixels`` caps ``width * height`` (checked from the header before decoding; default
    16384 x 16384). The file size is checked before reading. The GIL is released while reading
    and decoding.

    Unlike ``cv2.imread``, which returns ``None``, a missing, unreadable or damaged file raises
    ``graypipe.ImageError`` (an ``OSError``) naming the file and the reason.
    """
    max_pixels = _count("max_pixels", max_pixels, 1, _MAX_U64)
    return _graypipe.imread(os.fspath(path), bool(gray), max_pixels)


def _paths(inputs: Union[PathLike, Iterable[PathLike]]) -> list:
    if isinstance(inputs, (str, bytes, os.PathLike)):
        return [os.fspath(inputs)]
    return [os.fspath(p) for p in inputs]


def _existing(paths: list) -> list:
    """The inputs, after checking that each one is there: a missing top-level input is a
    mistake in the call, not a file of the batch that failed."""
    for p in paths:
        if not os.path.lexists(p):
            raise FileNotFoundError(errno.ENOENT, "no such file or folder", p)
    return paths


def _spec(spec: Any) -> Any:
    """A threshold SPEC must be text; cv2's integer constants get a pointer to the grammar."""
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, numbers.Number):
        raise TypeError(
            f"a threshold SPEC is text such as 'otsu', 'binary:127' or 'adaptive-gaussian:11:2', "
            f"not {spec!r}: graypipe does not take cv2 constants (cv2.THRESH_BINARY + "
            f"cv2.THRESH_OTSU -> 'otsu', cv2.THRESH_TRIANGLE -> 'triangle', "
            f"cv2.ADAPTIVE_THRESH_GAUSSIAN_C with blockSize 11 and C 2 -> 'adaptive-gaussian:11:2'); "
            f"a fixed level is written '127' or 'binary:127'"
        )
    raise TypeError(f"a threshold SPEC is text such as 'otsu' or 'binary:127', not {type(spec).__name__}")


def _list(value: Union[str, int, Iterable[Any]]) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    return ",".join(str(v) for v in value)


def run(
    inputs: Union[PathLike, Iterable[PathLike]],
    output: PathLike,
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
    files: Optional[Iterable[PathLike]] = None,
) -> Dict[str, Any]:
    """Convert files and folders into ``output``, as ``graypipe run``; return its report.

    A piece of a batch (for a cluster engine such as Dask; see ``graypipe.dask``):
    ``shard=(k, n)`` converts shard k of n as ``--shard k/n --shard-by shard_by`` does (the
    report then carries the shard record ``merge`` checks); ``files`` converts only those
    inputs of the listing (as ``plan`` names them), with the output names the whole run gives.

    The arguments are the CLI's options: ``threshold`` a SPEC (gray only when ``None``),
    ``workers`` the worker threads (default: the logical cores), ``engine`` ``"staged"``
    (default), ``"rayon"`` or ``"serial"``, ``in_flight`` the most files alive at once (staged
    engine), ``format`` ``png``, ``jpeg``, ``bmp``, ``tiff``, ``webp``, ``pnm`` or ``same``,
    ``bit_depth`` ``"auto"`` (two-valued PNG results in 1 bit) or ``"8"``, ``png_compression``
    ``fast``, ``balanced`` or ``high``. Folders are walked recursively and mirrored below
    ``output``.

    Returns the ``--report`` record as a dict (the same fields, built by the same code; see the
    README's "Run report" section). Files that fail do not raise: they are counted in
    ``report["files"]["failed"]`` and listed in ``report["failures"]`` with their reason.

    The work runs on graypipe's threads with the GIL released. Ctrl-C (SIGINT in the main
    thread) cancels the run cleanly: no new file starts, files in flight finish or are
    discarded (never half written), then ``KeyboardInterrupt`` is raised with the run's report
    attached as its ``report`` attribute. A Python process that ends on it exits with status
    130, as the CLI does.

    Raises ``graypipe.UsageError`` for a bad argument and ``graypipe.RefusedError`` for a batch
    refused before it started (colliding outputs, output inside an input folder, an output
    that would replace an input); ``FileNotFoundError`` when an input itself is missing;
    ``TypeError`` for a ``threshold`` that is not SPEC text (a cv2 constant, say).
    """
    report_json, interrupt = _graypipe._run(
        _existing(_paths(inputs)),
        os.fspath(output),
        _spec(threshold),
        _maxval(maxval),
        _count("workers", workers, 1, _MAX_WORKERS),
        engine or "staged",
        _count("in_flight", in_flight, 1, _MAX_IN_FLIGHT),
        luma,
        format,
        str(bit_depth),
        png_compression,
        _count("max_pixels", max_pixels, 1, _MAX_U64),
        follow_links,
        skip_existing,
        fail_fast,
        None if shard is None else (int(shard[0]), int(shard[1])),
        shard_by,
        None if files is None else _paths(files),
    )
    report = json.loads(report_json)
    if interrupt is not None:
        try:
            interrupt.report = report
        except AttributeError:
            pass
        raise interrupt
    return report


def sweep(
    inputs: Union[PathLike, Iterable[PathLike]],
    workers: Union[str, int, Sequence[int], None] = None,
    engines: Union[str, Sequence[str]] = "staged",
    threshold: Optional[str] = None,
    *,
    maxval: float = 255,
    in_flight: Optional[int] = None,
    warmup: int = 1,
    repeat: int = 3,
    baseline: str = "same",
    keep_output: Optional[PathLike] = None,
    scratch: Optional[PathLike] = None,
    luma: str = "bt601",
    format: str = "png",
    bit_depth: str = "auto",
    png_compression: str = "fast",
    max_pixels: Optional[int] = None,
    follow_links: bool = False,
) -> Dict[str, Any]:
    """Measure how a job scales, as ``graypipe sweep``; return the ``--export-json`` record.

    ``workers`` is a list of counts or the CLI's text (``"1,2,4"``, ``"1..8"``; default: 1 up
    to the logical cores, as the CLI); ``engines`` a
    list or ``"staged,rayon,serial"``. Every point runs ``warmup`` uncounted then ``repeat``
    counted times, interleaved, each into a fresh temporary folder (made in ``scratch`` if
    given); ``keep_output`` keeps the last run's files. ``baseline`` is ``"same"`` (T1 of each
    engine) or ``"serial"``. The other arguments are ``run``'s.

    Returns the record (machine, job, raw runs per point, the analysis with Amdahl fits) as a
    dict, the same document ``graypipe sweep --export-json`` writes and ``graypipe amdahl
    --from`` reads.

    The sweep runs with the GIL released; the calling thread checks Python's signals every
    50 ms. Ctrl-C (SIGINT) cancels the run in progress (no new file starts), removes every
    temporary folder and raises ``KeyboardInterrupt``; no record is returned.

    Raises ``graypipe.UsageError`` for a bad argument, ``graypipe.RefusedError`` when the batch
    is refused or ``keep_output`` is not empty.
    """
    record_json = _graypipe._sweep(
        _existing(_paths(inputs)),
        None if workers is None else _list(workers),
        _list(engines),
        _spec(threshold),
        _maxval(maxval),
        _count("in_flight", in_flight, 1, _MAX_IN_FLIGHT),
        _count("warmup", warmup, 0, _MAX_RUNS),
        _count("repeat", repeat, 1, _MAX_RUNS),
        baseline,
        None if keep_output is None else os.fspath(keep_output),
        None if scratch is None else os.fspath(scratch),
        luma,
        format,
        str(bit_depth),
        png_compression,
        _count("max_pixels", max_pixels, 1, _MAX_U64),
        follow_links,
    )
    return json.loads(record_json)


def plan(
    inputs: Union[PathLike, Iterable[PathLike]],
    output: PathLike,
    *,
    format: str = "png",
    follow_links: bool = False,
    skip_existing: bool = False,
) -> Dict[str, Any]:
    """The listing ``run`` would convert, without converting anything.

    Returns ``{"jobs": [{"input", "output", "bytes"}, ...], "skipped": [{"input", "output"}],
    "errors": [{"input", "reason"}]}`` in plan order (the order shards are cut from). Pass
    pieces of ``jobs`` inputs to ``run(..., files=...)``, or cut by ``run(..., shard=(k, n))``.
    Raises ``graypipe.RefusedError`` for a batch ``run`` would refuse.
    """
    jobs, skipped, errors = _graypipe._plan(
        _paths(inputs), os.fspath(output), follow_links, skip_existing, format
    )
    return {
        "jobs": [{"input": os.fspath(i), "output": os.fspath(o), "bytes": b} for i, o, b in jobs],
        "skipped": [{"input": os.fspath(i), "output": os.fspath(o)} for i, o in skipped],
        "errors": [{"input": os.fspath(p), "reason": r} for p, r in errors],
    }


def merge(reports: Iterable[Union[Dict[str, Any], PathLike]]) -> Dict[str, Any]:
    """Join and check shard reports, as ``graypipe merge``; return the merged record.

    ``reports`` are report dicts (as ``run(..., shard=...)`` returns) or paths of
    ``--report`` files. ``record["complete"]`` is True only when every shard 1..N is there
    once, all planned the same listing, and no file failed; ``record["problems"]`` says
    what is wrong otherwise.
    """
    texts = []
    for n, r in enumerate(reports):
        if isinstance(r, dict):
            texts.append((f"report {n + 1}", json.dumps(r)))
        else:
            with open(os.fspath(r), "rb") as f:
                texts.append((os.fspath(r), f.read().decode("utf-8")))
    return json.loads(_graypipe._merge(texts))
