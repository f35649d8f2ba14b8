"""HRE / IMN speed on this machine: batched 1-of-20 ranking vs a per-candidate reference.

Measures, for each backbone with the paper's sizes (BiLSTM 200, 300-d GloVe + 100-d word2vec
shaped word vectors, char-CNN 3x50, RA fusion, self persona):

- ranking cases/s (a case = one context with its 20 candidates) of the batched evaluation
  path, and of a per-candidate reference that scores each (context, candidate) pair in its own
  forward with the same weights; their ratio;
- training contexts/s (forward, backward and Adam step, 16 contexts per batch);
- peak resident memory of the process after each backbone;
- projected time of a full Persona-Chat training epoch (65,719 contexts) and validation pass
  (7,801 contexts);
- for HRE, a roofline: the BiLSTM FLOPs of a training context against this machine's measured
  matmul peak, i.e. the fastest any implementation of the paper's sizes could train here.

Inputs have real Persona-Chat lengths: contexts are built from the real utterances in
tests/fixtures (context length 2t+1 for a turn t drawn like the real data's, 15 at most), each
with 20 real candidates.

    python benchmarks/rnn_ranking.py [--quick] [--device cpu|cuda]

Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import resource

import numpy as np
import torch
from common import matmul_peak_gflops, realistic_examples, timed
from rich.console import Console
from rich.table import Table

from personafuse.backbones import BACKBONES, PersonaRanker
from personafuse.features import RnnFeaturizer

TRAIN_CONTEXTS, VALID_CONTEXTS = 65_719, 7_801


def build(
    name: str, featurizer: RnnFeaturizer, device: torch.device, **backbone_args
) -> PersonaRanker:
    torch.manual_seed(0)
    vectors = np.random.default_rng(0).normal(size=(len(featurizer.vocab), 400)).astype(np.float32)
    backbone = BACKBONES.get(name)(
        vectors, len(featurizer.char_vocab), hidden_size=200, **backbone_args
    )
    return PersonaRanker(backbone, "ra", ("self",), mlp_hidden=256).to(device)


def lstm_train_gflop_per_context(batch, word_dim: int, hidden: int = 200) -> float:
    """GFLOP of HRE's BiLSTMs per training context: forward 2·4h·(in + h) per real token and
    direction, backward twice the forward. A lower bound on the work of a training step."""
    tokens = sum(int(t.lengths.sum()) for t in (batch.context, batch.responses, batch.self_persona))
    utterances = int(batch.context.mask.sum())
    forward = 2 * 2 * 4 * hidden * (tokens * (word_dim + hidden) + utterances * (5 * hidden))
    return 3 * forward / len(batch) / 1e9


def measure(name: str, examples, featurizer, device, quick: bool) -> dict:
    model = build(name, featurizer, device)
    # These contexts draw their candidates from 30 fixture turns, so candidates repeat far more
    # than in Persona-Chat: sharing them would flatter the batched path. eval_reuse.py measures
    # the sharing of real dialogue structure.
    model.backbone.sentences.deduplicate = False
    to = lambda batch: batch if device.type == "cpu" else _to_device(batch, device)  # noqa: E731
    eval_batch = to(featurizer(examples[:32]))
    model.eval()
    with torch.no_grad():
        batched, _ = timed(lambda: model(eval_batch), 2 if quick else 8)
        pairs = [
            dataclasses.replace(e, candidates=(c,), label=0)
            for e in examples[:2]
            for c in e.candidates
        ]
        single = [to(featurizer([p])) for p in pairs]
        per_pair, _ = timed(lambda: [model(b) for b in single], 2 if quick else 8)
    model.train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    train_batch = to(featurizer(examples[32:48]))

    def step():
        loss = torch.nn.functional.cross_entropy(model(train_batch), train_batch.labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    train_step, _ = timed(step, 3 if quick else 10)
    cases_batched = 32 / batched
    cases_reference = 2 / per_pair
    train_rate = 16 / train_step
    if name == "hre":
        word_dim = model.backbone.sentences.words.output_dim
        gflop = lstm_train_gflop_per_context(train_batch, word_dim)
        peak = matmul_peak_gflops(device)
        roofline = {
            "lstm_gflop_per_train_context": round(gflop, 2),
            "matmul_peak_gflops": round(peak, 1),
            "achieved_fraction_of_peak": round(gflop * train_rate / peak, 2),
            "train_epoch_min_at_peak": round(TRAIN_CONTEXTS * gflop / peak / 60, 1),
        }
    else:
        roofline = {}
    return roofline | {
        "ranking_cases_per_s": round(cases_batched, 1),
        "reference_cases_per_s": round(cases_reference, 2),
        "speedup": round(cases_batched / cases_reference, 1),
        "train_contexts_per_s": round(train_rate, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "train_epoch_min": round(TRAIN_CONTEXTS / train_rate / 60, 1),
        "validation_pass_min": round(VALID_CONTEXTS / cases_batched / 60, 1),
    }


def _to_device(batch, device):
    from lightning.fabric.utilities.apply_func import move_data_to_device

    return move_data_to_device(batch, device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short timing loops (< 60 s)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    examples = realistic_examples(64)
    featurizer = RnnFeaturizer().fit(examples)
    results = {
        name: measure(name, examples, featurizer, device, args.quick) for name in ("hre", "imn")
    }
    machine = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or "cpu"
    )
    table = Table(title=f"HRE / IMN ranking speed on {machine} ({torch.get_num_threads()} threads)")
    columns = [
        "model",
        "cases/s batched",
        "cases/s per-candidate",
        "speed-up",
        "train contexts/s",
        "peak RSS MiB",
        "train epoch (min)",
        "valid pass (min)",
    ]
    for column in columns:
        table.add_column(column, justify="right")
    keys = (
        "ranking_cases_per_s",
        "reference_cases_per_s",
        "speedup",
        "train_contexts_per_s",
        "peak_rss_mib",
        "train_epoch_min",
        "validation_pass_min",
    )
    for name, r in results.items():
        table.add_row(name, *(str(r[k]) for k in keys))
    Console().print(table)
    hre = results["hre"]
    print(
        f"HRE roofline: {hre['lstm_gflop_per_train_context']} GFLOP of BiLSTM work per training"
        f" context; at this machine's measured matmul peak ({hre['matmul_peak_gflops']} GFLOP/s)"
        f" a full epoch takes at least {hre['train_epoch_min_at_peak']} min; the training step"
        f" runs at {hre['achieved_fraction_of_peak']:.0%} of that peak."
    )
    summary = {"benchmark": "rnn_ranking", "quick": args.quick, "device": str(device)}
    summary |= {"machine": machine, "threads": torch.get_num_threads(), "results": results}
    print("RESULT " + json.dumps(summary))


if __name__ == "__main__":
    main()
