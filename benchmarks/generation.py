"""Cached-source decoding vs recomputing the whole sequence at every step.

The packaged MiniLM-L6 as a UniLM seq2seq generator (``Seq2SeqBert``), sources of 150 tokens,
exactly 20 generated tokens (min = max length), greedy and beam search of 4. Both paths must
give the same tokens (checked); the table gives generated tokens per second and the ratio.

    python benchmarks/generation.py [--quick] [--device cuda]

Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import timed

from personafuse.features.bert import resolve_pretrained
from personafuse.generation import DecodingConfig, Seq2SeqBert, decode


def sources(batch: int, length: int, vocab: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1000, vocab, (batch, length), generator=generator)
    ids[:, 0], ids[:, -1] = 101, 102  # [CLS] … [SEP]
    return ids, torch.full((batch,), length)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small batch, ≤ 60 s")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--source-tokens", type=int, default=150)
    parser.add_argument("--new-tokens", type=int, default=20)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    model = Seq2SeqBert.from_pretrained(resolve_pretrained("packaged")).eval().to(args.device)
    batch = 4 if args.quick else 16
    min_seconds = 2.0 if args.quick else 10.0
    ids, lengths = sources(batch, args.source_tokens, model.bert.config.vocab_size)
    ids, lengths = ids.to(args.device), lengths.to(args.device)
    rows, result = [], {"device": args.device, "batch": batch, "source_tokens": args.source_tokens}
    for strategy in ("greedy", "beam"):
        config = {
            "strategy": strategy,
            "beam_size": 4,
            "max_length": args.new_tokens,
            "min_length": args.new_tokens,
        }
        outputs, speeds = {}, {}
        for use_cache in (True, False):
            settings = DecodingConfig(**config, use_cache=use_cache)
            outputs[use_cache] = decode(model, ids, lengths, 102, settings)
            seconds, _ = timed(lambda s=settings: decode(model, ids, lengths, 102, s), min_seconds)
            speeds[use_cache] = batch * args.new_tokens / seconds
        same = outputs[True] == outputs[False]
        ratio = speeds[True] / speeds[False]
        rows.append((strategy, speeds[True], speeds[False], ratio, same))
        result |= {
            f"{strategy}_cached_tokens_per_s": round(speeds[True], 1),
            f"{strategy}_recomputed_tokens_per_s": round(speeds[False], 1),
            f"{strategy}_speedup": round(ratio, 2),
            f"{strategy}_same_tokens": same,
        }
    print(f"{'decoding':<8} {'cached tok/s':>13} {'recomputed tok/s':>17} {'ratio':>6}  same")
    for strategy, cached, recomputed, ratio, same in rows:
        print(f"{strategy:<8} {cached:>13.1f} {recomputed:>17.1f} {ratio:>5.2f}×  {same}")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
