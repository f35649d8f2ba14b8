"""The two-stage reply, measured: how often the true response is the reply (pool recall@1,
@10) for BM25 first stages of 10, 30, 100 and 300 candidates, searched with each first-stage
query (the whole dialogue, or the last utterance and the responder's persona) and reranked by
a trained ranker on each backend (PyTorch float32, ONNX float32, ONNX int8), beside the
latency of a turn over a 100k-response pool; and each backend's agreement with PyTorch on the
split's own 1-of-20 ranking (top-1 equal, hits@1, MRR).

The quality pool is every distinct true response of the split; a context's reply is right
when it is that context's true response. A first stage of k is the first k of BM25's ranking
of the pool; a candidate's score does not depend on the other candidates, so each context's
candidates (the union over queries of the largest first stage) are scored once per backend
and every k reads its prefix. The latency pool is the same responses plus real-utterance
fillers (chat_latency.py's) up to ``--latency-pool``; each turn is timed alone through the
stored index, as ``chat`` and ``serve`` answer it.

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
from personafuse.retrieval import build_index, load_index
from personafuse.retrieval.pool import QUERIES, Bm25Retriever, query_words
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


def first_stages(examples, pool: list[str], queries: list[str], k: int) -> list[dict]:
    """Per example, each query's BM25 ranking of the pool (its first ``k`` rows)."""
    retriever = Bm25Retriever(pool)
    return [
        {q: retriever.top_k(query_words(q, e.context, e.self_persona), k) for q in queries}
        for e in examples
    ]


def pool_recall(ranker: Ranker, examples, pool, rankings, stages) -> dict[tuple, dict]:
    """``{(query, k): {recall@1, recall@10, first_stage_recall}}`` for one backend."""
    where = {text: i for i, text in enumerate(pool)}
    counts: dict[tuple, np.ndarray] = {}
    for example, ranking in zip(examples, rankings, strict=True):
        rows = list(dict.fromkeys(row for ranked in ranking.values() for row in ranked))
        scores = ranker.score([example.context], [[pool[i] for i in rows]],
                              [example.self_persona], [example.partner_persona])[0]  # fmt: skip
        score_of = dict(zip(rows, scores, strict=True))
        truth = where[example.response]
        for query, ranked in ranking.items():
            for k in stages:
                top = sorted(ranked[:k], key=lambda row: -score_of[row])[:10]
                hits = np.array([top[0] == truth, truth in top, truth in ranked[:k]], float)
                counts[query, k] = counts.get((query, k), 0) + hits
    n = len(examples)
    return {key: dict(zip(("recall@1", "recall@10", "first_stage_recall"), (c / n).tolist(),
                          strict=True)) for key, c in counts.items()}  # fmt: skip


def latency(ranker: Ranker, examples, directory, first_stage: int, query: str) -> dict:
    stored = load_index(directory, ranker, first_stage, query)
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
    parser.add_argument("--queries", nargs="+", default=["dialogue", "last_turn+persona"],
                        choices=list(QUERIES), help="first-stage queries compared")  # fmt: skip
    parser.add_argument("--latency-query", default="last_turn+persona", choices=list(QUERIES))
    parser.add_argument("--latency-pool", type=int, default=100_000)
    parser.add_argument("--latency-turns", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="few contexts and stages, ≤ 60 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.contexts, args.first_stages, args.latency_turns = 15, [10, 30], 5
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
                    "checkpoint": str(args.ckpt), "latency_query": args.latency_query}  # fmt: skip
    torch_scores, labels = one_of_twenty(rankers[args.backends[0]], chosen)
    rankings = first_stages(chosen, pool, args.queries, max(args.first_stages))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for backend, ranker in rankers.items():
            scores, _ = one_of_twenty(ranker, chosen)
            true_ranks = ranks(torch.from_numpy(scores), torch.from_numpy(labels)).double()
            metrics = {k: round(float(v.mean()), 4) for k, v in per_context(true_ranks).items()}
            agree = float((scores.argmax(1) == torch_scores.argmax(1)).mean())
            result[backend] = {**metrics, "top1_agreement": agree}
            recalls = pool_recall(ranker, chosen, pool, rankings, args.first_stages)
            build_index(ranker, latency_pool, f"{tmp}/{backend}")
            for k in args.first_stages:
                times = latency(ranker, chosen[: args.latency_turns], f"{tmp}/{backend}", k,
                                args.latency_query)  # fmt: skip
                for query in args.queries:
                    row = {**recalls[query, k], **times}
                    result[f"{backend}_{query}_k{k}"] = {key: round(v, 4) for key, v in row.items()}
                    rows.append((backend, query, k, row))
                    print(json.dumps({"backend": backend, "query": query, "first_stage": k,
                                      **row}), flush=True)  # fmt: skip
    print("\n| backend | query | first stage | BM25 recall | pool recall@1 | pool recall@10 | "
          "p50 ms | p95 ms |\n|---|---|---|---|---|---|---|---|")  # fmt: skip
    for backend, query, k, row in rows:
        print(f"| {backend} | {query} | {k} | {row['first_stage_recall']:.3f} | "
              f"{row['recall@1']:.3f} | {row['recall@10']:.3f} | {row['p50_ms']} | "
              f"{row['p95_ms']} |")  # fmt: skip
    print("\n| backend | 1-of-20 hits@1 | MRR | top-1 equal to PyTorch |\n|---|---|---|---|")
    for backend in rankers:
        values = result[backend]
        print(f"| {backend} | {values['hits@1']:.4f} | {values['mrr']:.4f} | "
              f"{values['top1_agreement']:.3f} |")  # fmt: skip
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
