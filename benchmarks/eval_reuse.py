"""Evaluation with each distinct sentence of a batch encoded once, against every copy encoded.

Consecutive turns of a dialogue share both personas and all earlier utterances, and a turn's
true response is an utterance of the next turn's context. With the paper's sizes (BiLSTM 200,
400-d word vectors, char-CNN 3×50, RA fusion, both personas, random weights) and the config's
evaluation batch of 32 contexts in file order, this times the validation pass of HRE and IMN
both ways, batch by batch in alternation, and checks that the scores agree (≤ 1e-5).

The contexts are the synthetic validation split (whole dialogues, about 7 turns each, as in
Persona-Chat's 7,801 contexts of 1,000 dialogues). The synthetic negatives are templated and
repeat far more than Persona-Chat's, which would flatter the sharing; so each negative gets a
unique word appended (``i like dogs . xbk``) and only what Persona-Chat shares is shared:
the personas, the context utterances and the true responses.

    python benchmarks/eval_reuse.py [--quick] [--contexts N] [--device cpu|cuda]

Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time

import torch
from rnn_ranking import build

from personafuse.data import read_personachat, select_persona
from personafuse.data.synthetic import generate_corpus
from personafuse.features import RnnFeaturizer

VALID_CONTEXTS = 7_801


def distinct_negatives(example, number: int):
    """The example with every candidate but the true one made unique: a word of letters (the
    character vocabulary has no digits) that encodes the example and the candidate."""

    def word(value: int) -> str:
        letters = ""
        while True:
            value, digit = divmod(value, 26)
            letters += "abcdefghijklmnopqrstuvwxyz"[digit]
            if not value:
                return letters

    candidates = tuple(
        text if j == example.label else f"{text} {word(number * 100 + j)}"
        for j, text in enumerate(example.candidates)
    )
    return dataclasses.replace(example, candidates=candidates)


def counted(encoder) -> tuple[list[int], list[float]]:
    """Record how many sentences each call of the encoder's pass (word representation and
    BiLSTM) reads, and the seconds it takes: the only work that sharing can remove."""
    counts: list[int] = []
    spent: list[float] = []
    original = encoder.states

    def states(tokens):
        counts.append(tokens.lengths.numel())
        started = time.perf_counter()
        result = original(tokens)
        if result.device.type == "cuda":
            torch.cuda.synchronize()
        spent.append(time.perf_counter() - started)
        return result

    encoder.states = states
    return counts, spent


def measure(name, featurizer, batches, device) -> dict:
    network = build(name, featurizer, device)
    # Both personas: the fused profiles are among the shared sentences.
    network = type(network)(network.backbone, "ra", ("self", "partner"), mlp_hidden=256)
    network = network.to(device).eval()
    encoder = network.backbone.sentences
    counts, spent = counted(encoder)
    seconds = {True: 0.0, False: 0.0}
    encoding = {True: 0.0, False: 0.0}
    sentences = {True: 0, False: 0}
    difference = 0.0
    with torch.no_grad():
        network(batches[0])  # warm-up
        for batch in batches:
            scores = {}
            for shared in (True, False):
                encoder.deduplicate = shared
                counts.clear()
                spent.clear()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                started = time.perf_counter()
                scores[shared] = network(batch)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                seconds[shared] += time.perf_counter() - started
                sentences[shared] += sum(counts)
                encoding[shared] += sum(spent)
            difference = max(difference, float((scores[True] - scores[False]).abs().max()))
    contexts = sum(len(b) for b in batches)
    rate = {k: contexts / v for k, v in seconds.items()}
    # Sharing removes at most the sentence encoding of the copies: the bound on its speed-up
    # if the shared path encoded nothing at all.
    encoding_share = encoding[False] / seconds[False]
    return {
        "contexts": contexts,
        "contexts_per_s_shared": round(rate[True], 1),
        "contexts_per_s_every_copy": round(rate[False], 1),
        "speedup": round(rate[True] / rate[False], 2),
        "sentences_shared": sentences[True],
        "sentences_every_copy": sentences[False],
        "max_abs_difference": difference,
        "validation_pass_min_shared": round(VALID_CONTEXTS / rate[True] / 60, 1),
        "validation_pass_min_every_copy": round(VALID_CONTEXTS / rate[False] / 60, 1),
        "sentence_encoding_share_every_copy": round(encoding_share, 3),
        "speedup_bound": round(1 / (1 - encoding_share), 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="64 contexts (≤ 60 s)")
    parser.add_argument("--contexts", type=int, default=640)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    contexts = 64 if args.quick else args.contexts
    with tempfile.TemporaryDirectory() as tmp:
        generate_corpus(f"{tmp}/corpus", seed=0, dialogues={"train": 200, "valid": 200,
                                                           "test": 10})  # fmt: skip
        train = read_personachat(f"{tmp}/corpus/train_both_original.txt")
        valid = read_personachat(f"{tmp}/corpus/valid_both_original.txt")
    examples = [distinct_negatives(e, i) for i, e in enumerate(select_persona(valid, "both"))]
    examples = examples[:contexts]
    featurizer = RnnFeaturizer().fit(train)
    batches = [
        _to(featurizer(examples[start : start + 32]), device)
        for start in range(0, len(examples), 32)
    ]
    results = {name: measure(name, featurizer, batches, device) for name in ("hre", "imn")}
    print("| model | contexts | sentences encoded (shared / every copy) | contexts/s shared | "
          "contexts/s every copy | speed-up | max |Δ score| | sentence encoding's share of "
          "the time (every copy) | bound |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['contexts']} | {r['sentences_shared']:,} / "
              f"{r['sentences_every_copy']:,} | {r['contexts_per_s_shared']} | "
              f"{r['contexts_per_s_every_copy']} | {r['speedup']}× | "
              f"{r['max_abs_difference']:.1e} | {r['sentence_encoding_share_every_copy']:.0%} | "
              f"{r['speedup_bound']}× |")  # fmt: skip
    summary = {"benchmark": "eval_reuse", "quick": args.quick, "device": str(device),
               "threads": torch.get_num_threads(), "results": results}  # fmt: skip
    print("RESULT " + json.dumps(summary))


def _to(batch, device):
    from lightning.fabric.utilities.apply_func import move_data_to_device

    return move_data_to_device(batch, device)


if __name__ == "__main__":
    main()
