"""BERT ranking on CPU: sequences per encoder call, fused QKV, torch.compile (issue 16, item 4).

``BertRanker`` sorts a pass's sequences by length and encodes them in chunks of
``model.max_sequences``, each padded to its own longest. This times the ranking of the same
contexts (packaged MiniLM-L6, no persona, real-like Persona-Chat lengths, 20 candidates each),
in alternation:

- with chunks of 4, 8, 16 and 32 sequences (8 is the CPU default);
- chunks of 8 with one fused Q/K/V projection per layer instead of three;
- chunks of 8 through ``torch.compile(encoder, dynamic=True)`` (compiled first; not in
  ``--quick``).

Each row gives the achieved GFLOP/s (useful FLOPs on real tokens, as ``bert_ranking.py`` d.)
against this machine's measured matmul peak. The scores must not change (checked ≤ 1e-4).

    python benchmarks/bert_cpu.py [--quick] [--contexts N]

Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time

import torch
import torch.nn.functional as F
from bert_ranking import bert_flops, make
from common import matmul_peak_gflops, realistic_examples, timed

from personafuse.features import BertFeaturizer

CHUNKS = (4, 8, 16, 32)


def fused_qkv_forward(self, hidden_states, attention_mask=None, **kwargs):
    """transformers' BertSelfAttention.forward (encoder use) with one Q/K/V product."""
    from transformers.models.bert import modeling_bert

    shape = hidden_states.shape[:-1]
    weight = torch.cat([self.query.weight, self.key.weight, self.value.weight])
    bias = torch.cat([self.query.bias, self.key.bias, self.value.bias])
    heads = F.linear(hidden_states, weight, bias).view(*shape, 3, -1, self.attention_head_size)
    query, key, value = heads.permute(2, 0, 3, 1, 4)  # each (N, heads, T, head size)
    attention = modeling_bert.ALL_ATTENTION_FUNCTIONS.get_interface(
        self.config._attn_implementation, modeling_bert.eager_attention_forward
    )
    output, weights = attention(self, query, key, value, attention_mask, dropout=0.0,
                                scaling=self.scaling, **kwargs)  # fmt: skip
    return output.reshape(*shape, -1).contiguous(), weights


@contextlib.contextmanager
def fused_qkv():
    from transformers.models.bert import modeling_bert

    original = modeling_bert.BertSelfAttention.forward
    modeling_bert.BertSelfAttention.forward = fused_qkv_forward
    try:
        yield
    finally:
        modeling_bert.BertSelfAttention.forward = original


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short timing loops (≤ 60 s)")
    parser.add_argument("--contexts", type=int, help="contexts per timed batch (default 8, 2)")
    args = parser.parse_args(argv)
    contexts = args.contexts or (2 if args.quick else 8)
    seconds, rounds = (1.0, 1) if args.quick else (6.0, 2)
    examples = realistic_examples(contexts, seed=1)
    featurizer = BertFeaturizer("packaged")
    batch = featurizer(examples)
    model = make(featurizer, None, "cra", (), torch.device("cpu"))
    sequences = [model.builder.build(batch.context[b], r)[0]
                 for b in range(len(batch)) for r in batch.responses[b]]  # fmt: skip
    gflop = bert_flops([len(s) for s in sequences], model.encoder.config) / 1e9
    peak = matmul_peak_gflops()
    eager = model.encoder
    variants = {str(chunk): (chunk, contextlib.nullcontext, eager) for chunk in CHUNKS}
    variants["8, fused QKV"] = (8, fused_qkv, eager)
    compile_seconds = None
    if not args.quick:
        compiled = torch.compile(eager, dynamic=True)
        variants["8, torch.compile"] = (8, contextlib.nullcontext, compiled)

    def use(name):
        model.max_sequences, context, model.encoder = variants[name]
        return context()

    rates: dict[str, list[float]] = {name: [] for name in variants}
    with torch.inference_mode():
        scores = {}
        for name in variants:
            start = time.perf_counter()
            with use(name):
                scores[name] = model(batch)
            if "compile" in name:
                compile_seconds = round(time.perf_counter() - start, 1)
        for _ in range(rounds):  # alternate, so drift hits every variant alike
            for name in variants:
                with use(name):
                    per_call, _ = timed(lambda: model(batch), seconds)
                rates[name].append(gflop / per_call)
    model.encoder = eager
    difference = max(float((scores[n] - scores["8"]).abs().max()) for n in variants)
    assert difference < 1e-4, difference
    rows = {name: {"gflops": round(max(values), 1),
                   "fraction_of_peak": round(max(values) / peak, 3),
                   "cases_per_s": round(max(values) / gflop * contexts, 2)}
            for name, values in rates.items()}  # fmt: skip
    print(f"BERT (MiniLM-L6) ranking, {contexts} contexts × 20, {torch.get_num_threads()} "
          f"threads; matmul peak {peak:.1f} GFLOP/s; scores equal across variants "
          f"(max diff {difference:.1e}); compiling took {compile_seconds} s")  # fmt: skip
    print("| sequences per call | cases/s | GFLOP/s | fraction of matmul peak |\n|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['cases_per_s']} | {row['gflops']} | "
              f"{row['fraction_of_peak']:.0%} |")  # fmt: skip
    print("RESULT " + json.dumps({"benchmark": "bert_cpu", "quick": args.quick,
                                  "peak_gflops": round(peak, 1), "rows": rows,
                                  "compile_seconds": compile_seconds}))  # fmt: skip


if __name__ == "__main__":
    main()
