"""The prepared GPU benchmark (``benchmarks/gpu.sh``): Table 6 for every backbone × fusion,
training steps, peak memory, and the projected GPU-hours of the paper's sweeps.

- **Table 6**: contexts/s and pairs/s (a context has 20 candidates) of an evaluation pass over
  real-length contexts (the real utterances, personas and candidates of tests/fixtures, context
  lengths drawn like Persona-Chat's), in fp32 and under bf16 autocast (where the device has
  bf16; a CPU without it, AVX2 only, measures fp32 and says so), for HRE and IMN (the
  paper's sizes) and BERT-base (random weights from a ``BertConfig``, no download; L = 320)
  with every fusion each serves, self persona. Each cell runs over at most ``--contexts``
  contexts and stops after ``--cell-seconds`` (the rate is over the contexts done).
- **Training**: contexts/s of a training step (forward, backward, Adam) of HRE-RA, IMN-RA and
  BERT-base-CRA (the configs' batch sizes), and of the UniLM generator (MiniLM-L12-sized), with
  peak memory.
- **Projection**: GPU-hours of each ``experiment=table2`` … ``table7`` sweep with the real data
  sizes (65,719 training and 7,801 validation contexts, one validation per epoch, one test
  pass), from the faster of fp32 and bf16 per model.

    bash benchmarks/gpu.sh              # on the lent GPU: under 8 minutes
    bash benchmarks/gpu.sh --dry-run    # tiny sizes on the CPU, seconds (make test runs it)

Prints tables and ends with one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import realistic_examples

from personafuse.backbones import BACKBONES, PersonaRanker
from personafuse.backbones.bert import BertRanker
from personafuse.config import CONFIG_DIR
from personafuse.features import BertFeaturizer, RnnFeaturizer
from personafuse.fusion import FUSIONS
from personafuse.runs.checks import bf16_supported

TRAIN_CONTEXTS, VALID_CONTEXTS, TEST_CONTEXTS = 65_719, 7_801, 7_512
EPOCHS = {"hre": 10, "imn": 10, "bert": 19, "unilm": 10}
BATCH = {"hre": (16, 32), "imn": (16, 32), "bert": (8, 12)}  # (train, eval) contexts
FULL = {"rnn_hidden": 200, "word_dim": 400, "bert": dict(hidden_size=768, num_hidden_layers=12,
        num_attention_heads=12, intermediate_size=3072), "unilm": dict(hidden_size=384,
        num_hidden_layers=12, num_attention_heads=12, intermediate_size=1536)}  # fmt: skip
TINY = {"rnn_hidden": 8, "word_dim": 12, "bert": dict(hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=64), "unilm": dict(hidden_size=32,
        num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)}  # fmt: skip


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def peak_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def autocast(device: torch.device, precision: str):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def rnn_network(name, fusion, featurizer, sizes, device) -> PersonaRanker:
    torch.manual_seed(0)
    vectors = np.random.default_rng(0).normal(size=(len(featurizer.vocab), sizes["word_dim"]))
    backbone = BACKBONES.get(name)(vectors.astype(np.float32), len(featurizer.char_vocab),
                                   hidden_size=sizes["rnn_hidden"])  # fmt: skip
    # realistic_examples reuse 30 fixture turns: sharing their sentences would flatter Table 6.
    backbone.sentences.deduplicate = False
    return PersonaRanker(backbone, fusion, ("self",), mlp_hidden=256).to(device)


def bert_network(fusion, featurizer, sizes, device) -> BertRanker:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=featurizer.tokenizer.vocab_size, **sizes["bert"])
    network = BertRanker(BertModel(config), featurizer.special_ids, fusion, ("self",),
                         max_len=320)  # fmt: skip
    network.deduplicate = False  # as in rnn_network
    return network.to(device)


def move(batch, device):
    from lightning.fabric.utilities.apply_func import move_data_to_device

    return move_data_to_device(batch, device)


def evaluation_rate(network, batches, device, precision, seconds) -> tuple[float, int]:
    """Contexts/s of an evaluation pass over the batches (stopped after ``seconds``)."""
    network.eval()
    with torch.inference_mode(), autocast(device, precision):
        network(batches[0])  # warm-up
        synchronize(device)
        done, started = 0, time.perf_counter()
        for batch in batches:
            network(batch)
            done += len(batch)
            if time.perf_counter() - started > seconds:
                break
        synchronize(device)
    return done / (time.perf_counter() - started), done


def training_rate(step, contexts, device, seconds) -> float:
    step()  # warm-up
    synchronize(device)
    steps, started = 0, time.perf_counter()
    while steps < 3 or time.perf_counter() - started < seconds:
        step()
        steps += 1
    synchronize(device)
    return steps * contexts / (time.perf_counter() - started)


def ranking_step(network, batch, device, precision):
    network.train()
    optimizer = torch.optim.Adam([p for p in network.parameters() if p.requires_grad], lr=1e-5)

    def step():
        with autocast(device, precision):
            loss = torch.nn.functional.cross_entropy(network(batch).float(), batch.labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def precisions(device: torch.device) -> tuple[str, ...]:
    """fp32, and bf16 where the device runs it."""
    return ("fp32", "bf16") if bf16_supported(device.type) else ("fp32",)


def table6(examples, sizes, device, args) -> tuple[list[dict], dict]:
    rows, training = [], {}
    featurizers = {"rnn": RnnFeaturizer().fit(examples), "bert": BertFeaturizer(args.tokenizer)}
    for name in ("hre", "imn", "bert"):
        kind = "bert" if name == "bert" else "rnn"
        featurizer = featurizers[kind]
        count = args.bert_contexts if kind == "bert" else args.contexts
        # A dry run checks the code paths only: batches of at most 4 contexts.
        train_size, eval_size = (min(size, 4) if args.dry_run else size for size in BATCH[name])
        batches = [move(featurizer(examples[i : i + eval_size]), device)
                   for i in range(0, count, eval_size)]  # fmt: skip
        for fusion in [f for f, entry in FUSIONS.items() if BACKBONES.get(name).serves(entry)]:
            build = bert_network if kind == "bert" else rnn_network
            network = (build(fusion, featurizer, sizes, device) if kind == "bert"
                       else build(name, fusion, featurizer, sizes, device))  # fmt: skip
            for precision in precisions(device):
                reset_peak(device)
                rate, done = evaluation_rate(network, batches, device, precision,
                                             args.cell_seconds)  # fmt: skip
                rows.append({"model": name, "fusion": fusion, "precision": precision,
                             "contexts": done, "contexts_per_s": round(rate, 1),
                             "pairs_per_s": round(20 * rate, 1),
                             "peak_mib": round(peak_mib(device))})  # fmt: skip
                print(json.dumps(rows[-1]), flush=True)
            if fusion == ("cra" if kind == "bert" else "ra"):
                batch = move(featurizer(examples[:train_size]), device)
                for precision in precisions(device):
                    reset_peak(device)
                    rate = training_rate(ranking_step(network, batch, device, precision),
                                         train_size, device, args.train_seconds)  # fmt: skip
                    training[f"{name}/{precision}"] = {
                        "contexts_per_s": round(rate, 1), "peak_mib": round(peak_mib(device))
                    }  # fmt: skip
            del network
    return rows, training


def unilm(examples, sizes, device, args) -> dict:
    """Training and greedy decoding rates of the MiniLM-L12-sized generator."""
    from transformers import BertConfig, BertModel

    from personafuse.backbones.unilm import UnilmGenerator
    from personafuse.features import Seq2SeqFeaturizer
    from personafuse.generation import DecodingConfig, Seq2SeqBert

    featurizer = Seq2SeqFeaturizer(args.tokenizer)
    config = BertConfig(vocab_size=featurizer.tokenizer.vocab_size, **sizes["unilm"])
    torch.manual_seed(0)
    network = UnilmGenerator(Seq2SeqBert(BertModel(config)), featurizer).to(device)
    results = {}
    train = featurizer(examples[: 4 if args.dry_run else 16]).to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-5)
    for precision in precisions(device):
        network.train()

        def step(precision=precision):
            with autocast(device, precision):
                loss = network.loss(train)[0]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        reset_peak(device)
        rate = training_rate(step, len(train.input_ids), device, args.train_seconds)
        network.eval()
        source = featurizer(examples[: 4 if args.dry_run else 32]).to(device)
        settings = DecodingConfig(strategy="greedy", max_length=20, min_length=20)
        with autocast(device, precision):
            decode_rate = training_rate(
                lambda: network.generate(source, settings),  # noqa: B023 - used at once
                len(source.source_ids), device, args.train_seconds,
            )  # fmt: skip
        results[f"unilm/{precision}"] = {"contexts_per_s": round(rate, 1),
                                         "decode_contexts_per_s": round(decode_rate, 1),
                                         "peak_mib": round(peak_mib(device))}  # fmt: skip
    return results


def projection(rows, training, generation) -> dict:
    """GPU-hours of each paper sweep: per run, epochs × (training + one validation pass) and
    one test pass, at the faster precision of each model."""

    def best(values):
        return max(values)

    def evaluation(model, fusion):
        return best(r["contexts_per_s"] for r in rows if r["model"] == model
                    and r["fusion"] == fusion)  # fmt: skip

    def train(model):
        source = generation if model == "unilm" else training
        return best(v["contexts_per_s"] for k, v in source.items() if k.startswith(model + "/"))

    def run_hours(model, fusion, epochs, train_fraction=1.0):
        if model == "unilm":
            decode = best(v["decode_contexts_per_s"] for v in generation.values())
            seconds = epochs * (TRAIN_CONTEXTS * train_fraction / train(model)
                                + VALID_CONTEXTS / decode) + TEST_CONTEXTS / decode  # fmt: skip
        else:
            rate = evaluation(model, fusion)
            seconds = epochs * (TRAIN_CONTEXTS * train_fraction / train(model)
                                + VALID_CONTEXTS / rate) + TEST_CONTEXTS / rate  # fmt: skip
        return seconds / 3600

    hours = {}
    for table in range(2, 8):
        config = yaml.safe_load((CONFIG_DIR / "experiment" / f"table{table}.yaml").read_text())
        params = {k: str(v).split(",") for k, v in config["hydra"]["sweeper"]["params"].items()}
        overrides = dict(next(iter(d.items())) for d in config.get("defaults", [])
                         if isinstance(d, dict))  # fmt: skip
        trainer = config.get("trainer", {})
        models = params.pop("model", [overrides.get("override /model", "hre")])
        fusions = params.pop("fusion", [overrides.get("override /fusion", "ra")])
        others = int(np.prod([len(v) for v in params.values()]))
        total = 0.0
        for model, fusion in itertools.product(models, fusions):
            fusion = "ca" if model == "unilm" else fusion
            epochs = trainer.get("max_epochs", EPOCHS[model])
            fraction = (trainer["limit_train_batches"] * BATCH.get(model, (16,))[0]
                        / TRAIN_CONTEXTS) if "limit_train_batches" in trainer else 1.0  # fmt: skip
            total += others * run_hours(model, fusion, epochs, fraction)
        hours[f"table{table}"] = round(total, 2)
    hours["total"] = round(sum(hours.values()), 2)
    return hours


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true",
                        help="tiny sizes on the CPU: checks the script only")  # fmt: skip
    parser.add_argument("--tokenizer", default="packaged",
                        help="BERT tokenizer: packaged, or one gpu.sh --prepare saved")  # fmt: skip
    parser.add_argument("--contexts", type=int, default=VALID_CONTEXTS)
    parser.add_argument("--bert-contexts", type=int, default=1_000)
    parser.add_argument("--cell-seconds", type=float, default=8.0)
    parser.add_argument("--train-seconds", type=float, default=4.0)
    args = parser.parse_args(argv)
    if args.dry_run:
        args.contexts = args.bert_contexts = 4
        args.cell_seconds = args.train_seconds = 0.0
    device = torch.device("cuda" if torch.cuda.is_available() and not args.dry_run else "cpu")
    sizes = TINY if args.dry_run else FULL
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device: {name}; torch {torch.__version__}; dry run: {args.dry_run}", flush=True)
    if args.dry_run:
        print("dry run: tiny networks on the CPU; the figures below only show the script works")
    if "bf16" not in precisions(device):
        print(f"bf16: not supported on this {device.type} (no native bf16); measuring fp32 only")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    examples = realistic_examples(max(args.contexts, args.bert_contexts, 32))
    examples = [dataclasses.replace(e, label=0) for e in examples]
    started = time.perf_counter()
    rows, training = table6(examples, sizes, device, args)
    generation = unilm(examples, sizes, device, args)
    hours = projection(rows, training, generation)
    print("\n| model | fusion | precision | contexts | contexts/s | pairs/s | peak MiB |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['fusion']} | {r['precision']} | {r['contexts']} | "
              f"{r['contexts_per_s']} | {r['pairs_per_s']} | {r['peak_mib']} |")  # fmt: skip
    print("\n| training | contexts/s | decode contexts/s | peak MiB |\n|---|---|---|---|")
    for key, value in {**training, **generation}.items():
        print(f"| {key} | {value['contexts_per_s']} | "
              f"{value.get('decode_contexts_per_s', '')} | {value['peak_mib']} |")  # fmt: skip
    print("\nprojected GPU-hours (4 seeds, real data sizes): "
          + ", ".join(f"{k} {v}" for k, v in hours.items()))  # fmt: skip
    result = {"device": name, "dry_run": args.dry_run, "precisions": precisions(device),
              "seconds": round(time.perf_counter()
              - started, 1), "table6": rows, "training": training, "generation": generation,
              "projected_gpu_hours": hours}  # fmt: skip
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
