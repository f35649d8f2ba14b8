"""HRE training step: layouts of the BiLSTM work side by side (issue 16, item 3).

With the paper's sizes (BiLSTM 200, 400-d word vectors, char-CNN 3×50, RA fusion, self
persona, random weights) and 16 real-length contexts a step (forward, backward, Adam), this
times, in alternation:

- ``packed``: the code before this comparison, one packed-sequence BiLSTM call per group of
  sentences (context utterances, candidates, profiles) and for the context aggregator;
- ``one call``: every sentence of the step in a single packed call;
- ``padded``: the library's ``BiLSTM`` now, which won: no packing; two unidirectional oneDNN
  LSTM calls on the padded batch, the backward one on each sequence reversed within its
  length, so padding never enters a real state (outputs checked equal to ``packed``);
- ``padded + one call``: both;
- ``padded + torch.compile``: the padded layout through ``torch.compile(model,
  dynamic=True)`` (inductor), compiled before timing (its compile time is printed); not in
  ``--quick``, whose budget the compile alone exceeds.

Each row gives training contexts/s and the fraction of this machine's measured matmul peak
that the BiLSTM work (the roofline of ``rnn_ranking.py``) reaches.

    python benchmarks/hre_training.py [--quick]

Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F
from common import matmul_peak_gflops, realistic_examples, timed
from rnn_ranking import build, lstm_train_gflop_per_context
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from personafuse.backbones.hre import SentenceEncoder
from personafuse.backbones.layers import BiLSTM, max_last_pool
from personafuse.features import RnnFeaturizer

PADDED_FORWARD = BiLSTM.forward  # the library's layout
SEPARATE_GROUPS = SentenceEncoder.encode_groups


def packed_forward(self: BiLSTM, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The packed-sequence BiLSTM the library used before this comparison."""
    outputs = inputs.new_zeros(*inputs.shape[:2], self.output_dim)
    real = lengths > 0
    if real.any():
        packed = pack_padded_sequence(inputs[real], lengths[real].cpu(), batch_first=True,
                                      enforce_sorted=False)  # fmt: skip
        states, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True,
                                        total_length=inputs.shape[1])  # fmt: skip
        outputs[real] = states
    return outputs


def one_call(self: SentenceEncoder, groups, states=None):
    """Every group's sentences through one BiLSTM call (training keeps every copy)."""
    every = self.concatenate(groups)
    vectors = max_last_pool(self.states(every), every.lengths)
    outputs, start = [], 0
    for group in groups:
        outputs.append(vectors[start : start + group.lengths.numel()].reshape(
            *group.lengths.shape, -1))  # fmt: skip
        start += group.lengths.numel()
    return outputs


VARIANTS = {
    "packed": (packed_forward, SEPARATE_GROUPS),
    "one call": (packed_forward, one_call),
    "padded": (PADDED_FORWARD, SEPARATE_GROUPS),
    "padded + one call": (PADDED_FORWARD, one_call),
    "padded + torch.compile": (PADDED_FORWARD, SEPARATE_GROUPS),
}
COMPILED = "padded + torch.compile"


def use(variant: str) -> None:
    BiLSTM.forward, SentenceEncoder.encode_groups = VARIANTS[variant]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short timing loops (≤ 60 s)")
    args = parser.parse_args(argv)
    device = torch.device("cpu")
    examples = realistic_examples(64)
    featurizer = RnnFeaturizer().fit(examples)
    model = build("hre", featurizer, device)
    batch = featurizer(examples[:16])
    # The layouts compute the same function: check the BiLSTM outputs on this batch.
    encoder = model.backbone.sentences
    with torch.no_grad():
        embedded = encoder.words(batch.context).reshape(-1, *batch.context.word_ids.shape[-1:],
                                                        encoder.words.output_dim)  # fmt: skip
        lengths = batch.context.lengths.reshape(-1)
        packed = packed_forward(encoder.lstm, embedded, lengths)
        difference = float((packed - PADDED_FORWARD(encoder.lstm, embedded, lengths)).abs().max())
    assert difference < 1e-5, difference
    model.train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step(network=model):
        loss = F.cross_entropy(network(batch), batch.labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    variants = [name for name in VARIANTS if not (args.quick and name == COMPILED)]
    networks = dict.fromkeys(variants, model)
    compile_seconds = None
    if COMPILED in variants:
        use(COMPILED)
        networks[COMPILED] = torch.compile(model, dynamic=True)
        start = time.perf_counter()
        step(networks[COMPILED])  # compiles forward and backward
        compile_seconds = round(time.perf_counter() - start, 1)
    seconds = 2.0 if args.quick else 8.0
    gflop = lstm_train_gflop_per_context(batch, encoder.words.output_dim)
    peak = matmul_peak_gflops(device)
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(1 if args.quick else 2):  # alternate, so drift hits every variant alike
        for name in variants:
            use(name)
            per_step, _ = timed(lambda name=name: step(networks[name]), seconds)
            rates[name].append(16 / per_step)
    use("padded")
    rows = {name: {"train_contexts_per_s": round(max(values), 1),
                   "fraction_of_peak": round(gflop * max(values) / peak, 2)}
            for name, values in rates.items()}  # fmt: skip
    print(f"HRE training step, 16 contexts, {torch.get_num_threads()} threads; matmul peak "
          f"{peak:.1f} GFLOP/s; BiLSTM work {gflop:.2f} GFLOP a context; packed vs padded "
          f"outputs differ by {difference:.1e}; compiling took {compile_seconds} s")  # fmt: skip
    print("| layout | train contexts/s | fraction of matmul peak |\n|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['train_contexts_per_s']} | {row['fraction_of_peak']:.0%} |")
    print("RESULT " + json.dumps({"benchmark": "hre_training", "quick": args.quick,
                                  "peak_gflops": round(peak, 1), "rows": rows,
                                  "compile_seconds": compile_seconds}))  # fmt: skip


if __name__ == "__main__":
    main()
