"""Index a pool of responses for a trained ranker: ``python -m personafuse.index
ckpt_path=PATH [pool=train] --out DIR``.

The pool is a split's distinct true responses (``pool=train``, the default; ``valid`` or
``test``) or a text file, one response a line (``pool=FILE``; repeated lines are merged).
The index holds a BM25 first stage (``bm25s``) and, computed once here and memory-mapped
when chatting, what of the model does not depend on the context: every response's token ids
and, for HRE, its response vector r̄. It records the checkpoint and refuses any other.

Arguments:
    ckpt_path: The ranker's checkpoint (``RUN_DIR/checkpoints/best.ckpt``) or model folder
        (``Ranker.save_pretrained``; or a Hugging Face hub repository holding one).
    pool: ``train``, ``valid``, ``test`` or a text file (default ``train``).
    out (or ``--out DIR``): The index directory (created; an index there is replaced).
    batch_size: Responses encoded at once (default 512).

Examples::

    python -m personafuse.index ckpt_path=RUN/checkpoints/best.ckpt --out RUN/index
    python -m personafuse.index ckpt_path=RUN/checkpoints/best.ckpt pool=replies.txt --out idx
    python -m personafuse.chat ckpt_path=RUN/checkpoints/best.ckpt index=RUN/index
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["main", "read_pool_argument"]

ARGUMENTS = ("ckpt_path", "pool", "out", "batch_size")


def read_pool_argument(ranker, pool: str) -> tuple[list[str], int, str]:
    """The responses of ``pool=``: a split of the ranker's run, or a text file.

    Returns:
        ``(responses, duplicates merged, source)``.
    """
    from personafuse.cli import ArgumentError
    from personafuse.data.sources import SPLITS
    from personafuse.retrieval import pool_from_examples, read_pool

    if pool in SPLITS:
        from hydra.utils import instantiate

        if ranker.config is None or "datamodule" not in ranker.config:
            raise ArgumentError(f"pool={pool}: a model folder has no training data to read "
                                "splits from; give pool=FILE (one response a line)")  # fmt: skip

        datamodule = instantiate(ranker.config.datamodule)
        datamodule.prepare_data()
        examples = datamodule.load_split(pool)
        responses = pool_from_examples(examples)
        return responses, len(examples) - len(responses), f"{pool} split"
    if not Path(pool).exists():
        raise ArgumentError(f"pool={pool}: neither a split ({', '.join(SPLITS)}) nor a file")
    responses, duplicates = read_pool(pool)
    return responses, duplicates, str(Path(pool).resolve())


def main(argv: list[str] | None = None) -> None:
    from personafuse.cli import wants_help

    argv = sys.argv[1:] if argv is None else argv
    if wants_help(argv, __doc__):
        return
    from personafuse.cli import one_line_errors, parse_arguments, positive_int

    with one_line_errors():
        own, _ = parse_arguments(argv, ARGUMENTS, ("ckpt_path", "out"))
        batch_size = positive_int(own, "batch_size", 512)
        from personafuse.inference import Ranker
        from personafuse.retrieval import build_index

        ranker = Ranker.load(own["ckpt_path"], device="auto")  # a checkpoint or a model folder
        pool, duplicates, source = read_pool_argument(ranker, own.get("pool", "train"))
        record = build_index(ranker, pool, own["out"], source, duplicates, batch_size)
    out = Path(own["out"])
    sizes = ", ".join(
        f"{name} {'×'.join(map(str, meta['shape']))} {meta['dtype']}"
        for name, meta in record["encodings"].items()
    )
    print(f"indexed {len(pool):,} responses ({source}; {duplicates:,} repeats merged) for "
          f"model={record['checkpoint']['model']} in {out}")  # fmt: skip
    print(f"stored: bm25 ({record['seconds']['bm25']:.1f} s), {sizes} "
          f"({record['seconds']['encodings']:.1f} s)")  # fmt: skip
    print(f"chat: python -m personafuse.chat ckpt_path={own['ckpt_path']} index={out}")


if __name__ == "__main__":
    main()
