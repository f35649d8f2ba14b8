"""IMN evaluation: the composition from input gates against building the enhanced features
(issue 16, item 2).

With the paper's sizes (BiLSTM 200, 400-d word vectors, char-CNN 3×50, RA fusion, self
persona, random weights) and real-length contexts in batches of 32, this times, in
alternation, for the paper's IMN and the projected option:

- ``features``: the code before this change (kept below as :func:`reference_forward`): the
  (B, C, T, 4·2h) enhanced features of both sides, scattered back into padded utterances, a
  padded BiLSTM over every (candidate, utterance) pair, then ``max_last_pool``;
- ``input gates``: the library's IMN now: the composition LSTM's gates from
  ``Enhancement.input_gates`` at real positions only, and ``PooledBiLSTM``.

Each row gives ranking cases/s (a case: one context with its 20 candidates), the projected
validation pass over Persona-Chat's 7,801 contexts, the peak memory the forward allocates, and
the largest score difference between the two paths.

    python benchmarks/imn_composition.py [--quick]

Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types

import torch
from common import realistic_examples, timed
from rnn_ranking import VALID_CONTEXTS, build

from personafuse.backbones.imn import IMN
from personafuse.backbones.layers import BiLSTM, max_last_pool
from personafuse.backbones.ranker import Encoded
from personafuse.features import RnnFeaturizer
from personafuse.fusion.base import masked_softmax

VARIANTS = {"paper": {}, "projected": {"enhancement_projection": True}}
PATHS = ("features", "input gates")


def reference_forward(imn: IMN, batch, personas: tuple[str, ...] = ()) -> Encoded:
    """IMN's forward as it was before the input-gate composition (same parameters)."""
    batch_size, utterances, utterance_len = batch.context.word_ids.shape
    candidates, response_len = batch.responses.word_ids.shape[1:]
    profiles = [imn.sentences.persona_tokens(batch, name) for name in personas]
    word_states, responses, *profile_vectors = imn.sentences.encode_groups(
        [batch.context, batch.responses, *profiles], [True, True] + [False] * len(profiles)
    )
    response_mask = torch.arange(response_len) < batch.responses.lengths[..., None]
    flat_mask = (torch.arange(utterance_len) < batch.context.lengths[..., None]).reshape(
        batch_size, -1
    )
    order = torch.sort((~flat_mask).to(torch.int8), dim=1, stable=True).indices
    context_len = int(flat_mask.sum(1).max())
    order = order[:, :context_len]
    hidden = word_states.shape[-1]
    context_words = word_states.reshape(batch_size, -1, hidden).gather(
        1, order[..., None].expand(-1, -1, hidden)
    )
    context_mask = torch.arange(context_len) < flat_mask.sum(1, keepdim=True)
    scores = torch.einsum("bih,bckh->bcik", context_words, responses)
    to_response = masked_softmax(scores, response_mask[:, :, None, :], dim=-1)
    to_context = masked_softmax(scores, context_mask[:, None, :, None], dim=2)
    context_aligned = torch.einsum("bcik,bckh->bcih", to_response, responses)
    response_aligned = torch.einsum("bcik,bih->bckh", to_context, context_words)
    context_enhanced = imn.enhance(context_words[:, None], context_aligned)
    response_enhanced = imn.enhance(responses, response_aligned)
    width = imn.enhance.output_dim
    padded = context_enhanced.new_zeros(batch_size, candidates, utterances * utterance_len, width)
    index = order[:, None, :, None].expand(-1, candidates, -1, width)
    padded = padded.scatter(2, index, context_enhanced * context_mask[:, None, :, None])
    lengths = batch.context.lengths[:, None, :].expand(-1, candidates, -1).reshape(-1)
    compose = BiLSTM(imn.compose.lstm.input_size, imn.compose.lstm.hidden_size)
    compose.lstm = imn.compose.lstm
    composed = imn.compose.dropout(compose(padded.reshape(-1, utterance_len, width), lengths))
    utterance_vectors = max_last_pool(composed, lengths).reshape(
        batch_size * candidates, utterances, -1
    )
    counts = batch.context.mask.sum(-1)[:, None].expand(-1, candidates).reshape(-1)
    context = imn.context(utterance_vectors, counts).reshape(batch_size, candidates, -1)
    response_lengths = batch.responses.lengths.reshape(-1)
    composed = imn.compose.dropout(
        compose(response_enhanced.reshape(-1, response_len, width), response_lengths)
    )
    response_vectors = max_last_pool(composed, response_lengths).reshape(batch_size, candidates, -1)
    fusion_responses = None
    if imn.fusion_response == "sentence":
        fusion_responses = max_last_pool(
            responses.reshape(-1, response_len, hidden), response_lengths
        ).reshape(batch_size, candidates, -1)
    sentence_vectors = max_last_pool(
        word_states.reshape(-1, utterance_len, hidden), batch.context.lengths.reshape(-1)
    ).reshape(batch_size, utterances, -1)
    return Encoded(
        context,
        response_vectors,
        {name: (profile_vectors[i], profiles[i].mask) for i, name in enumerate(personas)},
        fusion_responses,
        utterances=(sentence_vectors, batch.context.mask),
    )


def _setup(variant: str, path: str):
    examples = realistic_examples(64)
    featurizer = RnnFeaturizer().fit(examples)
    model = build("imn", featurizer, torch.device("cpu"), **VARIANTS[variant])
    model.backbone.sentences.deduplicate = False  # fixture sentences repeat; see rnn_ranking
    model.eval()
    if path == "features":
        model.backbone.forward = types.MethodType(reference_forward, model.backbone)
    return model, featurizer(examples[:32])


def _status_mib(field: str) -> float:
    """VmRSS (resident now) or VmHWM (its peak) of this process, from /proc/self/status.
    (Not ru_maxrss: Linux carries it over from the parent across fork and exec.)"""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024


def _memory_child(variant: str, path: str) -> None:
    """In a fresh process: the peak resident memory one forward adds to the built model."""
    model, batch = _setup(variant, path)
    before = _status_mib("VmRSS")
    with torch.no_grad():
        model(batch)
    print(json.dumps(round(_status_mib("VmHWM") - before)))


def peak_forward_mib(variant: str, path: str) -> int:
    child = subprocess.run(
        [sys.executable, __file__, "--memory-of", variant, path],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(child.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short timing loops (≤ 60 s)")
    parser.add_argument("--memory-of", nargs=2, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.memory_of:
        return _memory_child(*args.memory_of)
    seconds, rounds = (2.0, 1) if args.quick else (6.0, 2)
    rows = {}
    for variant in VARIANTS:
        models = {path: _setup(variant, path) for path in PATHS}
        rates = {path: [] for path in PATHS}
        with torch.no_grad():
            scores = {path: model(batch) for path, (model, batch) in models.items()}
            for _ in range(rounds):  # alternate, so drift hits both paths alike
                for path, (model, batch) in models.items():
                    per_batch, _ = timed(lambda model=model, batch=batch: model(batch), seconds)
                    rates[path].append(len(batch) / per_batch)
        difference = float((scores["features"] - scores["input gates"]).abs().max())
        for path, values in rates.items():
            rows[f"{variant} / {path}"] = {
                "cases_per_s": round(max(values), 2),
                "validation_pass_min": round(VALID_CONTEXTS / max(values) / 60, 1),
                # in a fresh process each, so that one path's peak does not hide the other's
                "peak_forward_mib": None if args.quick else peak_forward_mib(variant, path),
                "max_score_difference": difference,
            }
        rows[f"{variant} / input gates"]["speedup"] = round(
            max(rates["input gates"]) / max(rates["features"]), 2
        )
        del models
    print(f"IMN evaluation, batches of 32 contexts × 20 candidates, {torch.get_num_threads()} "
          "threads")  # fmt: skip
    print("| variant / path | cases/s | valid pass (min) | forward peak MiB | speed-up | "
          "max abs score difference |\n|---|---|---|---|---|---|")  # fmt: skip
    for name, row in rows.items():
        print(f"| {name} | {row['cases_per_s']} | {row['validation_pass_min']} | "
              f"{row['peak_forward_mib'] or '–'} | {row.get('speedup', '')} | "
              f"{row['max_score_difference']:.1e} |")  # fmt: skip
    print("RESULT " + json.dumps({"benchmark": "imn_composition", "quick": args.quick,
                                  "threads": torch.get_num_threads(), "rows": rows}))  # fmt: skip


if __name__ == "__main__":
    main()
