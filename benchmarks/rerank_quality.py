"""The two-stage reply, measured: how often the true response is the reply (pool recall@1,
@10) for BM25 first stages of 10, 30, 100 and 300 candidates, reranked by a trained ranker on
each backend (PyTorch float32, ONNX float32, ONNX int8), beside the latency of a turn over a
100k-response pool; and each backend's agreement with PyTorch on the split's own 1-of-20
ranking (top-1 equal, hits@1, MRR).

The quality pool is every distinct true response of the split; a context's reply is right
when it is that context's true response. The latency pool is the same responses plus
real-utterance fillers (chat_latency.py's) up to ``--latency-pool``; each turn is timed
alone, with the index's stored token ids.

    python benchmarks/rerank_quality.py --ckpt RUN/checkpoints/best.ckpt [--quick]

A model folder with its ONNX export is written next to the checkpoint's run
(``RUN/model``) unless ``--model`` names one. Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chat_latency import make_pool

from personafuse.inference import Ranker
from personafuse.retrieval import TwoStageResponder, build_index, load_index
from personafuse.retrieval.pool import Bm25Retriever
from personafuse.scoring.metrics import per_context, ranks


def split_examples(ranker: Ranker, split: str, dialogues: int | None):
    from hydra.utils import instantiate
    from omegaconf import open_dict

    cfg = ranker.config.copy()
    with open_dict(cfg):
        if dialogues:
            cfg.dataset.dialogues[split] = dialogues
    datamodule = instantiate(cfg.datamodule)
    datamodule.prepare_data()
    return datamodule.load_split(split)


def folder_of(args) -> Path:
    from personafuse.inference.onnx import export_onnx

    folder = Path(args.model) if args.model else Path(args.ckpt).resolve().parent.parent / "model"
    if not (folder / "config.json").is_file():
        ranker = Ranker.from_checkpoint(args.ckpt, device="cpu")
        ranker.save_pretrained(folder)
    if not (folder / "onnx" / "encoder.int8.onnx").is_file():
        export_onnx(Ranker.from_pretrained(folder, device="cpu"), folder)
    return folder


def one_of_twenty(ranker: Ranker, examples) -> tuple[np.ndarray, np.ndarray]:
    """(N, C) scores of the split's own candidates and the true candidates' indices."""
    scores = ranker.score([e.context for e in examples], [e.candidates for e in examples],
                          [e.self_persona for e in examples],
                          [e.partner_persona for e in examples])  # fmt: skip
    return np.asarray(scores), np.asarray([e.label for e in examples])


def pool_recall(ranker: Ranker, examples, pool: list[str], first_stage: int) -> dict:
    responder = TwoStageResponder(ranker, Bm25Retriever(pool), first_stage)
    where = {text: i for i, text in enumerate(pool)}
    at1 = at10 = first = 0
    for example in examples:
        truth = where[example.response]
        rows, _ = responder.request(example.context)
        first += truth in rows
        replies = responder.reply(example.context, list(example.self_persona) or None,
                                  list(example.partner_persona) or None, top_k=10)  # fmt: skip
        at1 += replies[0].index == truth
        at10 += truth in [r.index for r in replies]
    n = len(examples)
    return {"recall@1": at1 / n, "recall@10": at10 / n, "first_stage_recall": first / n}


def latency(ranker: Ranker, examples, pool: list[str], first_stage: int, directory) -> dict:
    build_index(ranker, pool, directory)
    stored = load_index(directory, ranker, first_stage)
    times = []
    for example in examples:
        started = time.perf_counter()
        stored.reply(example.context, list(example.self_persona) or None,
                     list(example.partner_persona) or None)  # fmt: skip
        times.append(time.perf_counter() - started)
    ms = np.asarray(times) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p95_ms": round(float(np.percentile(ms, 95)), 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", required=True, help="a trained ranker's checkpoint")
    parser.add_argument("--model", help="its model folder (default RUN/model, made if missing)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--dialogues", type=int, default=100,
                        help="dialogues of the synthetic split (default corpus: 100)")  # fmt: skip
    parser.add_argument("--contexts", type=int, default=300, help="contexts evaluated")
    parser.add_argument("--first-stages", type=int, nargs="+", default=[10, 30, 100, 300])
    parser.add_argument("--backends", nargs="+", default=["torch", "onnx", "onnx-int8"])
    parser.add_argument("--latency-pool", type=int, default=100_000)
    parser.add_argument("--latency-turns", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="few contexts and stages, ≤ 60 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.contexts, args.first_stages, args.latency_turns = 20, [10, 30], 5
        args.latency_pool = 10_000
    torch.set_grad_enabled(False)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    folder = folder_of(args)
    rankers = {b: Ranker.from_pretrained(folder, device="cpu", backend=b) for b in args.backends}
    reference = Ranker.from_checkpoint(args.ckpt, device="cpu")
    examples = split_examples(reference, args.split, args.dialogues)
    pool = sorted({e.response for e in examples})
    chosen = examples[:: max(1, len(examples) // args.contexts)][: args.contexts]
    filler = make_pool(args.latency_pool)
    latency_pool = list(dict.fromkeys([*pool, *filler]))[: args.latency_pool]
    result: dict = {"contexts": len(chosen), "pool": len(pool), "split": args.split,
                    "latency_pool": len(latency_pool), "threads": torch.get_num_threads(),
                    "checkpoint": str(args.ckpt)}  # fmt: skip
    torch_scores, labels = one_of_twenty(rankers[args.backends[0]], chosen)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend, ranker in rankers.items():
            scores, _ = one_of_twenty(ranker, chosen)
            true_ranks = ranks(torch.from_numpy(scores), torch.from_numpy(labels)).double()
            metrics = {k: round(float(v.mean()), 4) for k, v in per_context(true_ranks).items()}
            agree = float((scores.argmax(1) == torch_scores.argmax(1)).mean())
            result[backend] = {**metrics, "top1_agreement": agree}
            for k in args.first_stages:
                row = pool_recall(ranker, chosen, pool, k)
                row |= latency(ranker, chosen[: args.latency_turns], latency_pool, k,
                               f"{tmp}/{backend}-{k}")  # fmt: skip
                result[f"{backend}_k{k}"] = {key: round(v, 4) for key, v in row.items()}
                rows.append((backend, k, row))
                print(json.dumps({"backend": backend, "first_stage": k, **row}), flush=True)
    print("\n| backend | first stage | BM25 recall | pool recall@1 | pool recall@10 | "
          "p50 ms | p95 ms |\n|---|---|---|---|---|---|---|")  # fmt: skip
    for backend, k, row in rows:
        print(f"| {backend} | {k} | {row['first_stage_recall']:.3f} | {row['recall@1']:.3f} | "
              f"{row['recall@10']:.3f} | {row['p50_ms']} | {row['p95_ms']} |")  # fmt: skip
    print("\n| backend | 1-of-20 hits@1 | MRR | top-1 equal to PyTorch |\n|---|---|---|---|")
    for backend in rankers:
        values = result[backend]
        print(f"| {backend} | {values['hits@1']:.4f} | {values['mrr']:.4f} | "
              f"{values['top1_agreement']:.3f} |")  # fmt: skip
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
