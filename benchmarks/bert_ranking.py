"""BERT ranking speed on this machine, side by side in one run (issue 4, benchmarks a–d).

With the packaged MiniLM-L6 weights (BERT architecture) and real Persona-Chat texts from
tests/fixtures (real-like context lengths), each case = one context with its 20 candidates:

a. NA and CA ranking with the persona pass once per context (broadcast to the 20 candidates)
   vs the paper's per-pair two-pass design, same weights;
b. dynamic padding (length-sorted chunks padded to their longest) vs padding to 320;
c. ``persona=none`` vs sentence-transformers ``CrossEncoder.predict`` on the same weights and
   the same inputs: largest score difference and pairs/s;
d. achieved GFLOP/s of ranking (useful FLOPs on real tokens) vs this machine's measured
   matmul peak.

    python benchmarks/bert_ranking.py [--quick] [--contexts N] [--max-sequences N]
        [--device cpu|cuda]

Ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile

import torch
from common import matmul_peak_gflops, realistic_examples, timed
from rich.console import Console
from rich.table import Table

from personafuse.backbones.bert import BertRanker
from personafuse.features import BertFeaturizer, SequenceBuilder


class PerPairBertRanker(BertRanker):
    """The paper's design: the NA/CA persona pass runs once per (context, candidate) pair."""

    def _broadcast(self, per_context, candidates):
        return self._encode([s for s in per_context for _ in range(candidates)])  # every copy


class FixedPaddingBuilder(SequenceBuilder):
    """Pads every chunk to ``max_len`` instead of its longest sequence."""

    def pad(self, sequences, to_length=None):
        return super().pad(sequences, self.max_len)


def bert_flops(lengths: list[int], config) -> float:
    """Forward FLOPs of the encoder layers over sequences of these lengths: per layer and
    token 8H² (Q, K, V, output projections) + 4HI (feed-forward) + 4TH (attention)."""
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    return layers * sum(t * (8 * h * h + 4 * h * i + 4 * t * h) for t in lengths)


def ranking_rate(model: BertRanker, batch, contexts: int, seconds: float) -> float:
    with torch.inference_mode():
        per_call, _ = timed(lambda: model(batch), seconds)
    return contexts / per_call


def make(featurizer, max_sequences, fusion, personas, device, kind=BertRanker) -> BertRanker:
    torch.manual_seed(0)
    model = kind("packaged", featurizer.special_ids, fusion, personas, max_sequences=max_sequences)
    # The contexts reuse the personas of 30 fixture turns at random; sharing their passes
    # across contexts would flatter "once per context" (eval_reuse.py measures the sharing).
    model.deduplicate = False
    return model.to(device).eval()


def cross_encoder_check(model: BertRanker, featurizer, examples, device, seconds: float):
    """Scores and pairs/s of CrossEncoder.predict with our persona=none weights."""
    from sentence_transformers import CrossEncoder
    from transformers import BertForSequenceClassification

    config = model.encoder.config.to_dict() | {"num_labels": 1}
    classifier = BertForSequenceClassification(type(model.encoder.config).from_dict(config))
    classifier.bert.load_state_dict(model.encoder.state_dict())
    classifier.classifier.load_state_dict(model.scorer.state_dict())
    separator = f" {featurizer.tokenizer.sep_token} "
    pairs = [(separator.join(e.context), c) for e in examples for c in e.candidates]
    with tempfile.TemporaryDirectory() as tmp:
        classifier.save_pretrained(tmp)
        featurizer.tokenizer.save_pretrained(tmp)
        encoder = CrossEncoder(tmp, max_length=model.builder.max_len, device=str(device))
    identity = torch.nn.Identity()

    def predict():
        return encoder.predict(pairs, activation_fn=identity, convert_to_tensor=True)

    reference = predict().float().cpu().view(len(examples), -1)
    per_call, _ = timed(predict, seconds)
    return reference, len(pairs) / per_call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short timing loops (< 60 s)")
    parser.add_argument("--contexts", type=int, help="contexts per timed batch (default 8, 2)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--max-sequences", type=int, help="sequences per encoder call (default: the model's)"
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    contexts = args.contexts or (2 if args.quick else 8)
    seconds = 1 if args.quick else 6
    examples = realistic_examples(contexts, seed=1)
    featurizer = BertFeaturizer("packaged")
    batch = featurizer(examples)
    rows, results = [], {}

    # a. persona pass once per context vs per pair.
    for fusion in ("na", "ca"):
        shared = make(featurizer, args.max_sequences, fusion, ("self",), device)
        per_pair = make(
            featurizer, args.max_sequences, fusion, ("self",), device, PerPairBertRanker
        )
        fast = ranking_rate(shared, batch, contexts, seconds)
        slow = ranking_rate(per_pair, batch, contexts, seconds)
        results[f"a_{fusion}"] = {"cases_per_s": fast, "per_pair_cases_per_s": slow}
        rows.append(
            (f"a. {fusion.upper()} persona pass", "once per context", "per pair", fast, slow)
        )

    # b. dynamic padding vs fixed 320.
    dynamic = make(featurizer, args.max_sequences, "cra", (), device)
    fixed = make(featurizer, args.max_sequences, "cra", (), device)
    builder = dynamic.builder
    fixed.builder = FixedPaddingBuilder(
        builder.cls_id, builder.sep_id, builder.pad_id, builder.max_len, builder.truncation
    )
    fast = ranking_rate(dynamic, batch, contexts, seconds)
    slow = ranking_rate(fixed, batch, contexts, seconds)
    results["b_padding"] = {"cases_per_s": fast, "fixed_320_cases_per_s": slow}
    rows.append(("b. padding (no persona)", "dynamic", "fixed 320", fast, slow))

    # c. persona=none vs CrossEncoder.predict, same weights and inputs.
    with torch.inference_mode():
        ours = dynamic(batch).float().cpu()
    reference, cross_pairs = cross_encoder_check(dynamic, featurizer, examples, device, seconds)
    our_pairs = fast * examples[0].num_candidates
    max_diff = float((ours - reference).abs().max())
    results["c_cross_encoder"] = {
        "pairs_per_s": our_pairs,
        "cross_encoder_pairs_per_s": cross_pairs,
        "max_abs_score_diff": max_diff,
    }
    rows.append(
        ("c. no persona vs CrossEncoder", "personafuse", "CrossEncoder", our_pairs, cross_pairs)
    )

    # d. achieved GFLOP/s of ranking vs the matmul peak.
    pairs = [(b, r) for b in range(len(batch)) for r in batch.responses[b]]
    lengths = [len(dynamic.builder.build(batch.context[b], r)[0]) for b, r in pairs]
    gflop = bert_flops(lengths, dynamic.encoder.config) / 1e9
    achieved = gflop * fast / contexts
    peak = matmul_peak_gflops(device)
    results["d_flops"] = {
        "gflop_per_case": gflop / contexts,
        "achieved_gflops": achieved,
        "matmul_peak_gflops": peak,
        "fraction_of_peak": achieved / peak,
    }

    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    table = Table(title=f"BERT (MiniLM-L6) ranking on {machine or 'cpu'}, {contexts} contexts × 20")
    for column in ("comparison", "ours", "baseline", "ours /s", "baseline /s", "ratio"):
        table.add_column(column, justify="right")
    for name, ours_name, base_name, ours_rate, base_rate in rows:
        unit = "pairs" if name.startswith("c.") else "cases"
        table.add_row(
            name,
            ours_name,
            base_name,
            f"{ours_rate:.2f} {unit}",
            f"{base_rate:.2f} {unit}",
            f"{ours_rate / base_rate:.2f}×",
        )
    Console(width=150).print(table)
    print(f"c. max |score difference| vs CrossEncoder: {max_diff:.2e}")
    d = results["d_flops"]
    print(
        f"d. ranking: {d['achieved_gflops']:.1f} GFLOP/s achieved = {d['fraction_of_peak']:.0%}"
        f" of the measured matmul peak ({peak:.1f} GFLOP/s)"
    )
    rounded = {
        k: {n: round(v, 6 if "diff" in n else 3) for n, v in r.items()} for k, r in results.items()
    }
    summary = {"benchmark": "bert_ranking", "quick": args.quick, "device": str(device)}
    summary |= {"machine": machine, "threads": torch.get_num_threads(), "contexts": contexts}
    print("RESULT " + json.dumps(summary | {"results": rounded}))


if __name__ == "__main__":
    main()
