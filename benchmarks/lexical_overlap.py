"""Does the synthetic corpus show the effects it is built for? A lexical-overlap probe.

Ranks the 20 candidates of every test context by IDF-weighted word overlap with the context
and the chosen persona, for each persona setting and version, and prints hits@1 / MRR.
Expected: context beats chance; self adds most; partner adds less but some; revised < original.

    python benchmarks/lexical_overlap.py [--quick] [--seed S]

Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from personafuse.data import PERSONA_CHOICES, generate_corpus, read_personachat, select_persona
from personafuse.data.datamodule import shuffle_candidates
from personafuse.scoring.baselines import LexicalOverlapRanker
from personafuse.scoring.metrics import hits_at_k, mrr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small corpus, a few seconds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    # Full size: as many test dialogues as the real test split (968).
    sizes = (
        {"train": 300, "valid": 20, "test": 300}
        if args.quick
        else {"train": 1000, "valid": 100, "test": 968}
    )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        generate_corpus(corpus, seed=args.seed, dialogues=sizes)
        ranker = LexicalOverlapRanker().fit(read_personachat(corpus / "train_both_original.txt"))
        results = {}
        for version in ("original", "revised"):
            test = read_personachat(corpus / f"test_both_{version}.txt")
            test = shuffle_candidates(test, seed=args.seed, split="test")
            for persona in PERSONA_CHOICES:
                if version == "revised" and persona == "none":
                    continue  # identical to original/none: the versions differ only in personas
                examples = select_persona(test, persona)
                scores = ranker.score(examples)
                labels = torch.tensor([e.label for e in examples])
                results[f"{version}/{persona}"] = {
                    "hits@1": round(hits_at_k(scores, labels, 1).item(), 4),
                    "mrr": round(mrr(scores, labels).item(), 4),
                    "contexts": len(examples),
                }
    chance = {"hits@1": 1 / 20, "mrr": sum(1 / r for r in range(1, 21)) / 20}
    table = Table(title=f"lexical-overlap probe on the synthetic test split (seed {args.seed})")
    for column in ("version", "persona", "hits@1", "MRR", "contexts"):
        table.add_column(column, justify="right")
    table.add_row("-", "chance", f"{chance['hits@1']:.3f}", f"{chance['mrr']:.3f}", "")
    for key, value in results.items():
        version, persona = key.split("/")
        table.add_row(
            version,
            persona,
            f"{value['hits@1']:.3f}",
            f"{value['mrr']:.3f}",
            str(value["contexts"]),
        )
    Console().print(table)
    checks = {
        "context_beats_chance": results["original/none"]["hits@1"] > chance["hits@1"],
        "self_adds_most": results["original/self"]["hits@1"]
        > results["original/partner"]["hits@1"],
        "partner_adds_some": results["original/partner"]["hits@1"]
        > results["original/none"]["hits@1"],
        "revised_harder": results["revised/self"]["hits@1"] < results["original/self"]["hits@1"],
    }
    print("checks:", ", ".join(f"{k}={'yes' if v else 'NO'}" for k, v in checks.items()))
    summary = {
        "benchmark": "lexical_overlap",
        "quick": args.quick,
        "seed": args.seed,
        "dialogues": sizes,
        "results": results,
        "checks": checks,
        "seconds": round(time.perf_counter() - start, 1),
    }
    print("RESULT " + json.dumps(summary))


if __name__ == "__main__":
    main()
