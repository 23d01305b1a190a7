"""graypipe batches on a Dask cluster: many small pieces, Dask's scheduling, one merged record.

``graypipe.dask.run(inputs, output, client=...)`` cuts the batch into ``pieces`` shards (by
default several per Dask worker thread: over-decomposition, so a slow or lost worker holds up
only a small piece), submits ``graypipe.run(..., shard=(k, n))`` for each to the cluster, and
merges the pieces' reports with ``graypipe.merge``. Work stealing, retries of failed tasks and
rescheduling of the tasks of a worker that died are Dask's: a piece that runs again simply
converts its files again (every output is written atomically, so a piece cut off half way
leaves no partial file, and the second run writes the same bytes).

Every worker must see the inputs and the output folder under the same paths (one machine, a
shared file system, or object storage: ``s3://`` inputs and outputs when graypipe was built
with object storage).

Needs ``dask.distributed`` (``pip install 'dask[distributed]'``).
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import graypipe

PathLike = Union[str, "os.PathLike[str]"]

__all__ = ["submit", "run", "default_pieces"]


def _piece(
    inputs: List[str],
    output: str,
    shard: Tuple[int, int],
    shard_by: str,
    options: Dict[str, Any],
) -> Dict[str, Any]:
    # Runs on a Dask worker. The host and process id tell the merged record where it ran.
    report = graypipe.run(inputs, output, shard=shard, shard_by=shard_by, **options)
    report["dask_worker_pid"] = os.getpid()
    return report


def default_pieces(client: Any, files: int) -> int:
    """Four pieces per worker thread of the cluster (at least one, at most one per file)."""
    threads = sum(client.nthreads().values()) or 1
    return max(1, min(files, 4 * threads))


def submit(
    inputs: Union[PathLike, Iterable[PathLike]],
    output: PathLike,
    *,
    client: Any = None,
    pieces: Optional[int] = None,
    shard_by: str = "size",
    retries: int = 2,
    **options: Any,
) -> Tuple[List[Any], int]:
    """Submits the pieces; returns ``(futures, pieces)``. ``options`` are ``graypipe.run``'s
    (``threshold``, ``format``, ...); ``workers`` (graypipe's threads per piece) defaults to 1,
    since Dask already runs one piece per worker thread."""
    if client is None:
        from dask.distributed import get_client

        client = get_client()
    paths = graypipe._paths(inputs)
    out = os.fspath(output)
    listing = graypipe.plan(
        paths,
        out,
        format=options.get("format", "png"),
        follow_links=options.get("follow_links", False),
    )
    files = len(listing["jobs"]) + len(listing["errors"])
    n = pieces if pieces is not None else default_pieces(client, files)
    if not isinstance(n, int) or n < 1:
        raise graypipe.UsageError(f"pieces must be a positive integer, not {pieces!r}")
    options = dict(options)
    options.setdefault("workers", 1)
    batch = uuid.uuid4().hex[:8]
    futures = [
        client.submit(
            _piece,
            paths,
            out,
            (k, n),
            shard_by,
            options,
            key=f"graypipe-{batch}-piece-{k}-of-{n}",
            pure=False,
            retries=retries,
        )
        for k in range(1, n + 1)
    ]
    return futures, n


def _write_json(path: str, record: Dict[str, Any]) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".graypipe-", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(record, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def run(
    inputs: Union[PathLike, Iterable[PathLike]],
    output: PathLike,
    *,
    client: Any = None,
    pieces: Optional[int] = None,
    shard_by: str = "size",
    retries: int = 2,
    report: Optional[PathLike] = None,
    **options: Any,
) -> Dict[str, Any]:
    """Converts the batch on the Dask cluster of ``client`` (default: the current one) and
    returns the merged record (``graypipe.merge``'s), also written to ``report`` if given.

    ``record["complete"]`` is True when every piece reported once and no file failed; a
    piece whose task failed for good (after Dask's retries) is missing from the merge, which
    names it in ``record["problems"]``. ``record["dask"]`` says how many pieces there were and
    which worker processes ran them."""
    futures, n = submit(
        inputs,
        output,
        client=client,
        pieces=pieces,
        shard_by=shard_by,
        retries=retries,
        **options,
    )
    from dask.distributed import wait

    wait(futures)
    reports = []
    lost = []
    for k, f in enumerate(futures, start=1):
        if f.status == "finished":
            reports.append(f.result())
        else:
            lost.append({"piece": k, "error": repr(f.exception())})
    merged = graypipe.merge(reports) if reports else {"complete": False, "problems": []}
    merged["dask"] = {
        "pieces": n,
        "lost_pieces": lost,
        "worker_pids": sorted({r.get("dask_worker_pid") for r in reports if r.get("dask_worker_pid")}),
    }
    if report is not None:
        _write_json(os.fspath(report), merged)
    return merged
