"""Latency of one chat turn over a response pool: BM25's top ``--first-stage`` (searched with
``--query``, the defaults of ``chat`` and ``serve``), reranked by the model.

For pools of 10k and 100k responses, HRE-RA and BERT-CRA (the packaged MiniLM-L6) with the
self persona, on real-like dialogues (the real Persona-Chat utterances and personas of
tests/fixtures, contexts of real lengths). Each turn is answered twice, in alternation: with
the index's stored encodings (token ids; HRE's response vectors r̄, memory-mapped) and with
everything recomputed from the text (the featurizer's cache emptied first). Both must give
the same replies (checked). Weights are random: latency does not depend on training.

The pool: the 315 distinct real utterances of the fixtures (contexts and candidates), then
pairs and triples of them joined, until the pool has N distinct responses.

    python benchmarks/chat_latency.py [--quick] [--pools 10000 100000] [--models hre bert]
        [--first-stage K] [--query last_turn+persona] [--backend torch|onnx|onnx-int8]

Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import FIXTURES, realistic_examples

from personafuse.data import read_personachat
from personafuse.inference import Ranker
from personafuse.retrieval import TwoStageResponder, build_index, load_index
from personafuse.retrieval.pool import QUERIES, query_words
from personafuse.retrieval.responder import DEFAULT_FIRST_STAGE, DEFAULT_QUERY

MODELS = {
    "hre": ["model=hre", "fusion=ra", "persona=self"],
    "bert": ["model=bert", "fusion=cra", "persona=self"],
}


def make_pool(size: int, seed: int = 0) -> list[str]:
    real = [e for path in sorted(FIXTURES.glob("*_both_*.txt")) for e in read_personachat(path)]
    utterances = sorted({u for e in real for u in (*e.context, *e.candidates)})
    pool = dict.fromkeys(utterances[:size])
    rng = random.Random(seed)
    while len(pool) < size:  # 315 real utterances: pairs and triples of them
        pool[" ".join(rng.choices(utterances, k=rng.choice((2, 3))))] = None
    return list(pool)


def make_ranker(name: str, cache_dir: str) -> Ranker:
    """The network of ``conf/model/NAME.yaml`` with random weights, its featurizer fitted on
    the fixtures (what a training run would do, minus the training)."""
    from hydra.utils import instantiate

    from personafuse.config import compose_config
    from personafuse.runs.network import build_network

    cfg = compose_config(overrides=[*MODELS[name], f"paths.cache_dir={cache_dir}"])
    train = [e for path in sorted(FIXTURES.glob("train_*.txt")) for e in read_personachat(path)]
    featurizer = instantiate(cfg.model.featurizer).fit(train)
    torch.manual_seed(0)
    network = build_network(cfg, featurizer, train)
    identity = {"weights_sha256": f"random-{name}", "model": name, "fusion": cfg.fusion.name,
                "persona": "self"}  # fmt: skip
    return Ranker(network, featurizer, ("self",), int(cfg.model.eval_batch_size), identity,
                  config=cfg)  # fmt: skip


def on_backend(ranker: Ranker, folder: str, backend: str) -> Ranker:
    """The ranker as a model folder with its ONNX export, loaded on ``backend``."""
    from personafuse.inference.onnx import export_onnx

    ranker.save_pretrained(folder)
    export_onnx(Ranker.from_pretrained(folder, device="cpu"), folder)
    return Ranker.from_pretrained(folder, device="cpu", backend=backend)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def measure(ranker, pool, turns, directory, first_stage: int, query: str) -> dict:
    started = time.perf_counter()
    build_index(ranker, pool, directory)
    index_seconds = time.perf_counter() - started
    stored = load_index(directory, ranker, first_stage, query)
    recomputed = TwoStageResponder(ranker, stored.retriever, first_stage, query=query)
    latency = {"stored": [], "recomputed": [], "bm25": []}
    for example in turns:
        persona = list(example.self_persona)
        ranker.featurizer.forget()  # both paths tokenize the context and persona afresh
        started = time.perf_counter()
        stored.retriever.top_k(query_words(query, example.context, persona), first_stage)
        latency["bm25"].append(time.perf_counter() - started)
        started = time.perf_counter()
        reused = stored.reply(example.context, self_persona=persona, top_k=5)
        latency["stored"].append(time.perf_counter() - started)
        ranker.featurizer.forget()
        started = time.perf_counter()
        again = recomputed.reply(example.context, self_persona=persona, top_k=5)
        latency["recomputed"].append(time.perf_counter() - started)
        assert [r.index for r in reused] == [r.index for r in again], "replies differ"
    return {
        "index_seconds": round(index_seconds, 1),
        **{f"{k}_p50_ms": round(percentile(v, 50), 1) for k, v in latency.items()},
        **{f"{k}_p95_ms": round(percentile(v, 95), 1) for k, v in latency.items()},
        "turns": len(turns),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 10k pool, few turns, ≤ 60 s")
    parser.add_argument("--pools", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--first-stage", type=int, default=DEFAULT_FIRST_STAGE,
                        help=f"BM25 candidates (default {DEFAULT_FIRST_STAGE})")  # fmt: skip
    parser.add_argument("--query", default=DEFAULT_QUERY, choices=list(QUERIES),
                        help=f"what BM25 searches with (default {DEFAULT_QUERY})")  # fmt: skip
    parser.add_argument("--backend", default="torch", choices=["torch", "onnx", "onnx-int8"],
                        help="BERT's backend (HRE has no export: always torch)")  # fmt: skip
    parser.add_argument("--turns", type=int, nargs=2, default=[200, 20],
                        metavar=("HRE", "BERT"), help="turns timed per pool")  # fmt: skip
    args = parser.parse_args(argv)
    pools = [10_000] if args.quick else args.pools
    turns = {"hre": 30, "bert": 3} if args.quick else dict(zip(MODELS, args.turns, strict=True))
    torch.set_grad_enabled(False)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    rows = []
    results = {"threads": torch.get_num_threads(), "first_stage": args.first_stage,
               "query": args.query, "bert_backend": args.backend}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            ranker = make_ranker(name, f"{tmp}/cache")
            if name == "bert" and args.backend != "torch":
                ranker = on_backend(ranker, f"{tmp}/{name}-model", args.backend)
            for size in pools:
                queries = realistic_examples(turns[name], seed=size)
                row = measure(ranker, make_pool(size), queries, f"{tmp}/{name}-{size}",
                              args.first_stage, args.query)  # fmt: skip
                row["ratio_p50"] = round(row["recomputed_p50_ms"] / row["stored_p50_ms"], 2)
                results[f"{name}_{size}"] = row
                rows.append((name, size, row))
                print(f"{name} {size:>7,}: stored p50 {row['stored_p50_ms']} ms p95 "
                      f"{row['stored_p95_ms']} ms | recomputed p50 {row['recomputed_p50_ms']} "
                      f"ms p95 {row['recomputed_p95_ms']} ms | bm25 p50 {row['bm25_p50_ms']} ms",
                      flush=True)  # fmt: skip
    print()
    print("| model | pool | index build s | BM25 p50 ms | stored p50 / p95 ms | "
          "recomputed p50 / p95 ms | recomputed ÷ stored (p50) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, size, row in rows:
        print(f"| {name} | {size:,} | {row['index_seconds']} | {row['bm25_p50_ms']} | "
              f"{row['stored_p50_ms']} / {row['stored_p95_ms']} | {row['recomputed_p50_ms']} / "
              f"{row['recomputed_p95_ms']} | {row['ratio_p50']}× |")  # fmt: skip
    print("RESULT " + json.dumps(results))


if __name__ == "__main__":
    main()
