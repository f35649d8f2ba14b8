"""A generator's evaluation pass: the teacher-forced loss (perplexity) and greedy responses
of every context, as two passes (the loss over the batch, then ``decode`` from the sources,
as before) and as one (``UnilmGenerator.evaluate``: length-sorted chunks, decoding primed
with the sources' keys and values, finished responses leaving the batch), side by side.

The packaged MiniLM-L6 as ``model=unilm`` builds it (its language-model head untrained, so
responses often run to ``max_length``, the slow case), over the synthetic corpus's validation
split (self persona) in batches of 32 (the config's eval batch). Both ways must give the same
responses and the same summed negative log-likelihood (to 1e-5).

    python benchmarks/generation_eval.py [--quick]

Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from personafuse.backbones.unilm import UnilmGenerator
from personafuse.data import select_persona
from personafuse.data.parlai import read_personachat
from personafuse.data.synthetic import SyntheticPersonaChat
from personafuse.features import Seq2SeqFeaturizer
from personafuse.features.bert import resolve_pretrained
from personafuse.generation import DecodingConfig, Seq2SeqBert


def two_passes(network: UnilmGenerator, batch, config):
    _, nll, tokens = network.loss(batch)
    return nll, tokens, network.generate(batch, config)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 batches, ≤ 60 s")
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as cache:
        source = SyntheticPersonaChat(cache)
        examples = select_persona(read_personachat(source.split_path("valid", "self")), "self")
    featurizer = Seq2SeqFeaturizer().fit(examples)
    model = Seq2SeqBert.from_pretrained(resolve_pretrained("packaged"))
    network = UnilmGenerator(model, featurizer).eval()
    count = 3 if args.quick else args.batches
    batches = [featurizer(examples[i : i + 32]) for i in range(0, 32 * count, 32)]
    config = DecodingConfig(strategy="greedy", max_length=32, no_repeat_ngram=3)
    timings, outputs = {}, {}
    with torch.inference_mode():
        network.evaluate(batches[0], config)  # warm-up
        for name, run in (("two passes", lambda b: two_passes(network, b, config)),
                          ("one pass", lambda b: network.evaluate(b, config))):  # fmt: skip
            start = time.perf_counter()
            outputs[name] = [run(batch) for batch in batches]
            timings[name] = (time.perf_counter() - start) / len(batches)
    same_responses = all(a[2] == b[2] for a, b in zip(*outputs.values(), strict=True))
    same_nll = all(
        abs(float(a[0]) - float(b[0])) <= 1e-5 * abs(float(a[0])) and a[1] == b[1]
        for a, b in zip(*outputs.values(), strict=True)
    )
    lengths = [len(r) for *_, generated in outputs["one pass"] for r in generated]
    print(f"{'pass':<11} {'s/batch':>8} {'contexts/s':>11}")
    for name, seconds in timings.items():
        print(f"{name:<11} {seconds:>8.3f} {32 / seconds:>11.1f}")
    ratio = timings["two passes"] / timings["one pass"]
    print(f"one pass: {ratio:.2f}x; same responses: {same_responses}; same loss: {same_nll}; "
          f"mean response {sum(lengths) / len(lengths):.1f} wordpieces")  # fmt: skip
    result = {"batches": len(batches), "batch": 32,
              "two_passes_s_per_batch": round(timings["two passes"], 3),
              "one_pass_s_per_batch": round(timings["one pass"], 3), "speedup": round(ratio, 2),
              "same_responses": same_responses, "same_loss": same_nll}  # fmt: skip
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
