"""A response pool's index on disk: the pool, its BM25 first stage, and the model's
context-independent encodings of every response, bound to one checkpoint.

Layout of ``DIR``::

    index.json        what was indexed: the checkpoint (path, weights digest, model, fusion,
                      persona), the pool's source and size, the stored arrays
    pool.jsonl        the responses, one JSON string a line
    bm25/             the bm25s index
    encodings/*.npy   Ranker.encode_pool arrays, memory-mapped when loaded
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from personafuse.retrieval.pool import Bm25Retriever
from personafuse.retrieval.responder import DEFAULT_FIRST_STAGE, DEFAULT_QUERY, TwoStageResponder

__all__ = ["INDEX_FORMAT", "PoolIndexError", "build_index", "load_index", "open_index"]

INDEX_FORMAT = 1


class PoolIndexError(ValueError):
    """An index directory that cannot serve this checkpoint; the message says why."""


def build_index(
    ranker,
    pool: Sequence[str],
    out: str | Path,
    source: str = "",
    duplicates: int = 0,
    batch_size: int = 512,
) -> dict:
    """Index ``pool`` for ``ranker`` into ``out`` (created; an existing index is replaced).

    Returns:
        The ``index.json`` record, with the seconds each stage took under ``seconds``.
    """
    from personafuse import __version__

    out = Path(out)
    if not pool:
        raise PoolIndexError("the pool is empty: nothing to index")
    (out / "encodings").mkdir(parents=True, exist_ok=True)
    for old in (out / "encodings").glob("*.npy"):
        old.unlink()
    started = time.perf_counter()
    retriever = Bm25Retriever(pool)
    retriever.save(out)
    bm25_seconds = time.perf_counter() - started
    started = time.perf_counter()
    arrays = ranker.encode_pool(list(pool), batch_size=batch_size)
    encode_seconds = time.perf_counter() - started
    for name, array in arrays.items():
        np.save(out / "encodings" / f"{name}.npy", array)
    with (out / "pool.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(text) + "\n" for text in pool)
    record = {
        "format": INDEX_FORMAT,
        "personafuse": __version__,
        "checkpoint": ranker.identity,
        "pool": {"source": source, "size": len(pool), "duplicates_merged": duplicates},
        "first_stage": "bm25s",
        "encodings": {
            name: {"shape": list(array.shape), "dtype": str(array.dtype)}
            for name, array in arrays.items()
        },
        "seconds": {"bm25": round(bm25_seconds, 3), "encodings": round(encode_seconds, 3)},
    }
    (out / "index.json").write_text(json.dumps(record, indent=2))
    return record


def load_index(
    directory: str | Path,
    ranker,
    first_stage: int = DEFAULT_FIRST_STAGE,
    query: str = DEFAULT_QUERY,
) -> TwoStageResponder:
    """The two-stage responder of an index, its encodings memory-mapped.

    Raises:
        PoolIndexError: Not an index, an index of another checkpoint, or missing or damaged
            files.
    """
    directory = Path(directory)
    path = directory / "index.json"
    if not path.is_file():
        raise PoolIndexError(f"{directory}: not a response index (no index.json); build one "
                             "with python -m personafuse.index ckpt_path=… --out DIR")  # fmt: skip
    try:
        record = json.loads(path.read_text())
        built_for, size, stored = record["checkpoint"], record["pool"]["size"], record["encodings"]
    except (ValueError, KeyError, TypeError) as err:
        raise PoolIndexError(f"{path}: damaged ({err!r}); rebuild the index") from None
    if record.get("format") != INDEX_FORMAT:
        raise PoolIndexError(f"{path}: index format {record.get('format')}, this personafuse "
                             f"reads {INDEX_FORMAT}; rebuild it")  # fmt: skip
    digest = ranker.identity.get("weights_sha256")
    if digest is None:
        raise PoolIndexError("this ranker has no checkpoint identity (weights_sha256): load it "
                             "with Ranker.load")  # fmt: skip
    if built_for.get("weights_sha256") != digest:
        raise PoolIndexError(
            f"{directory} was built for {built_for.get('path')} (model={built_for.get('model')} "
            f"fusion={built_for.get('fusion')} persona={built_for.get('persona')}, weights "
            f"{str(built_for.get('weights_sha256'))[:12]}), not for "
            f"{ranker.identity.get('path')} (weights {str(digest)[:12]}): its stored "
            "encodings belong to that model; rebuild it with python -m personafuse.index "
            f"ckpt_path={ranker.identity.get('path')} --out DIR"
        )
    with (directory / "pool.jsonl").open(encoding="utf-8") as handle:
        pool = [json.loads(line) for line in handle]
    encodings = {}
    for name, meta in stored.items():
        file = directory / "encodings" / f"{name}.npy"
        if not file.is_file():
            raise PoolIndexError(f"{file}: missing; rebuild the index")
        encodings[name] = np.load(file, mmap_mode="r")
        if list(encodings[name].shape) != meta["shape"]:
            raise PoolIndexError(f"{file}: shape {list(encodings[name].shape)}, index.json says "
                              f"{meta['shape']}; rebuild the index")  # fmt: skip
    rows = {"response_vectors": size, "tokens.offsets": size + 1}
    if len(pool) != size or any(
        name in encodings and encodings[name].shape[0] != count for name, count in rows.items()
    ):
        raise PoolIndexError(f"{directory}: the pool and its encodings disagree in size; rebuild "
                             "the index")  # fmt: skip
    retriever = Bm25Retriever.load(directory, pool)
    return TwoStageResponder(ranker, retriever, first_stage, encodings, query)


def open_index(ckpt_path, directory, first_stage: int = DEFAULT_FIRST_STAGE,
               device: str = "auto", backend: str = "torch",
               query: str = DEFAULT_QUERY):  # fmt: skip
    """The ranker of a checkpoint or model folder (with its ``backend``) and the two-stage
    responder of its index (chat, serve)."""
    from personafuse.inference import Ranker

    ranker = Ranker.load(ckpt_path, device=device, backend=backend)
    return load_index(directory, ranker, first_stage, query)
