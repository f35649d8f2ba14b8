"""model=unilm end to end: the CA layout of the source, the real configs training and
generating for no, self and partner persona, evaluate on its checkpoint, and clear errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
import torch

from personafuse.data.schema import RankingExample
from personafuse.features.seq2seq import IGNORE, Seq2SeqFeaturizer

from .conftest import run_train_cli


def _example(context, self_persona=(), partner_persona=()) -> RankingExample:
    return RankingExample(
        dialogue_id=0, turn=0, context=tuple(context), self_persona=tuple(self_persona),
        partner_persona=tuple(partner_persona), candidates=("a reply .",), label=0,
        response="i like dogs .",
    )  # fmt: skip


@pytest.fixture(scope="module")
def featurizer(tiny_bert):
    return Seq2SeqFeaturizer(str(tiny_bert), max_source_tokens=14, max_persona_tokens=6)


def _words(featurizer, ids):
    return featurizer.tokenizer.convert_ids_to_tokens(ids)


def test_source_is_persona_then_context_joined_by_sep(featurizer):
    example = _example(["hi there .", "hello ."], self_persona=["i like cats ."])
    assert _words(featurizer, featurizer.source(example)) == [
        "[CLS]", "i", "like", "cats", ".", "[SEP]", "hi", "there", ".", "[SEP]", "hello", ".",
        "[SEP]",
    ]  # fmt: skip
    no_persona = featurizer.source(_example(["hello ."]))
    assert _words(featurizer, no_persona) == ["[CLS]", "hello", ".", "[SEP]"]


def test_both_personas_are_marked_and_the_newest_context_is_kept(featurizer):
    example = _example(["hi there .", "i like dogs ."], ["i ski ."], ["i swim ."])
    assert featurizer.persona_text(example) == "your persona: i ski . partner's persona: i swim ."
    words = _words(featurizer, featurizer.source(example))
    assert len(words) == 14 and words[-5:] == ["i", "like", "dogs", ".", "[SEP]"]
    assert words[:2] == ["[CLS]", "your"] and words.count("[SEP]") >= 2


def test_labels_predict_each_target_token_from_the_position_before(featurizer):
    batch = featurizer([_example(["hello ."], self_persona=["i like cats ."])])
    source = int(batch.source_lengths[0])
    labels = batch.labels[0].tolist()
    target = batch.input_ids[0, source:].tolist()
    assert labels[source - 1 : source - 1 + len(target)] == target
    assert all(label == IGNORE for label in labels[: source - 1])
    assert _words(featurizer, target)[-1] == "[SEP]"
    assert batch.token_type_ids[0, source:].tolist() == [1] * len(target)


def _tiny(tiny_bert, tmp_path, *extra):
    return [
        "model=unilm", f"model.pretrained={tiny_bert}", "dataset.dialogues.train=40",
        "dataset.dialogues.valid=20", "dataset.dialogues.test=20",
        "trainer.enable_progress_bar=false", f"paths.cache_dir={tmp_path}/cache", *extra,
    ]  # fmt: skip


# The self persona runs by default; none and partner (the same code with another layout)
# run with the slow tests, to keep the default run under 10 minutes.
@pytest.mark.parametrize(
    "persona",
    [pytest.param("none", marks=pytest.mark.slow), "self",
     pytest.param("partner", marks=pytest.mark.slow)],
)  # fmt: skip
def test_unilm_trains_and_generates_with_the_real_configs(persona, tiny_bert, tmp_path):
    run = tmp_path / "run"
    result = run_train_cli(
        _tiny(tiny_bert, tmp_path, f"persona={persona}", "trainer.max_steps=2",
              "trainer.limit_val_batches=1", "trainer.limit_test_batches=1",
              f"hydra.run.dir={run}"),
        tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"] == "unilm" and metrics["persona"] == persona
    for key in ("bleu", "dist1", "dist2", "length", "perplexity", "loss"):
        assert f"test/{key}" in metrics and f"val/{key}" in metrics
    with (run / "generations_test.tsv").open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert len(rows) == metrics["test/contexts"] > 0
    assert all((row["persona"] == "") == (persona == "none") for row in rows)
    assert metrics["best_checkpoint"].endswith("best.ckpt")
    if persona == "self":  # evaluate reads a generation checkpoint too
        evaluated = subprocess.run(
            [sys.executable, "-m", "personafuse.evaluate", f"ckpt_path={run}/checkpoints/best.ckpt",
             "trainer.limit_test_batches=1"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )  # fmt: skip
        assert evaluated.returncode == 0, evaluated.stderr[-3000:]
        again = json.loads((run / "evaluate" / "test" / "metrics.json").read_text())
        assert again["test/bleu"] == pytest.approx(metrics["test/bleu"])
        _generate_from(run, tmp_path)


def _generate_from(run, tmp_path):
    """The Python call and the generate command on a trained generator."""
    from personafuse.generate import ResponseGenerator

    generator = ResponseGenerator.load(run / "checkpoints" / "best.ckpt")
    reply = generator.generate(["hi there .", "hello , i like dogs ."], self_persona=["i ski ."])
    beam = generator.generate(["hi there ."], self_persona=["i ski ."], strategy="beam")
    assert isinstance(reply, str) and isinstance(beam, str)
    with pytest.raises(ValueError, match="trained with persona=self: it would not read it"):
        generator.generate(["hi ."], partner_persona=["i swim ."])
    generated = subprocess.run(
        [sys.executable, "-m", "personafuse.generate", f"ckpt_path={run}/checkpoints/best.ckpt",
         "split=valid", "trainer.limit_val_batches=1", "module.decoding.strategy=beam"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr[-3000:]
    out = run / "generate" / "valid"
    assert (out / "generations_valid.tsv").is_file()
    assert json.loads((out / "metrics.json").read_text())["valid/contexts"] > 0


def test_a_ranking_fusion_for_the_generator_is_a_clear_error(tiny_bert, tmp_path):
    result = run_train_cli(_tiny(tiny_bert, tmp_path, "fusion=ra"), tmp_path)
    assert result.returncode == 1
    assert "fusion=ra cannot serve model=unilm; fusions that serve it: ca" in result.stderr
    assert "Traceback" not in result.stderr


def _fake_generation_run(root, persona: str, bleus: list[float], seed: int = 0):
    from personafuse.generation.metrics import GENERATION_METRICS

    directory = root / f"unilm-{persona}-{seed}"
    directory.mkdir(parents=True)
    shift = (persona == "partner") * 1.0  # the partner's responses: a word longer
    lengths = [8.0 + i % 3 + shift * (1 + i % 2 / 10) for i in range(len(bleus))]
    metrics = {
        "dataset": "SyntheticPersonaChat", "version": "original", "model": "unilm",
        "fusion": None if persona == "none" else "ca", "persona": persona,
        "persona_as_context": False, "subtype": None, "seed": seed, "monitor": "val/bleu",
        "val/bleu": 100 * sum(bleus) / len(bleus), "test/bleu": 100 * sum(bleus) / len(bleus),
        "test/dist1": 90.0, "test/dist2": 99.0, "test/length": sum(lengths) / len(lengths),
    }  # fmt: skip
    (directory / "metrics.json").write_text(json.dumps(metrics))
    lines = ["\t".join(("context_id", "persona", "reference", "hypothesis", *GENERATION_METRICS))]
    for index, (bleu, length) in enumerate(zip(bleus, lengths, strict=True)):
        lines.append(f"{index}\tp\tref\thyp\t{bleu}\t0.9\t0.99\t{length}")
    (directory / "generations_test.tsv").write_text("\n".join(lines) + "\n")


def test_report_renders_table7_with_stars_bold_and_the_papers_rows(tmp_path):
    import numpy as np

    from personafuse.report.main import build_report

    rng = np.random.default_rng(0)
    base = rng.uniform(0.0, 0.05, 200).round(4).tolist()
    _fake_generation_run(tmp_path / "sweep", "none", base)
    _fake_generation_run(tmp_path / "sweep", "self", [b + 0.03 + rng.normal(0, 5e-3) for b in base])
    _fake_generation_run(tmp_path / "sweep", "partner", [b + rng.normal(0, 1e-3) for b in base])
    build_report([tmp_path / "sweep"], tmp_path / "report")
    markdown = (tmp_path / "report" / "tables.md").read_text()
    assert "Table 7: response generation" in markdown
    rows = {line.split(" | ")[0].strip("| "): line for line in markdown.splitlines()
            if line.startswith("| MiniLM")}  # fmt: skip
    assert "**" in rows["MiniLM-CA-Self"].split(" | ")[1] and "★" in rows["MiniLM-CA-Self"]
    assert "★" not in rows["MiniLM-CA-Partner"].split(" | ")[1]  # BLEU: no real change
    assert rows["MiniLM-CA-Partner"].split(" | ")[4].strip(" |").endswith("★")  # length: +1
    assert (
        rows["MiniLM-CA-Self (paper)"]
        == "| MiniLM-CA-Self (paper) | 4.50★ | 94.94★ | 99.59 | 8.59 |"
    )
    assert r"\textbf{" in (tmp_path / "report" / "tables.tex").read_text()


def test_the_validation_sample_is_the_same_contexts_on_any_number_of_processes():
    from personafuse.data.sampling import ShardSampler
    from personafuse.lit.generation import sample_rows

    contexts, batch, stride = 50, 4, 7
    for world in (1, 2, 3):
        chosen = set()
        for rank in range(world):
            shard = list(ShardSampler(contexts, world, rank))
            for seen in range(0, len(shard), batch):
                size = min(batch, len(shard) - seen)
                rows = sample_rows(seen, size, stride, world, rank)
                chosen |= {shard[seen + row] for row in rows}
        assert chosen == set(range(0, contexts, stride)), world


class _Batch:
    def __init__(self, size):
        self.references = [f"reference {i}" for i in range(size)]
        self.personas = [""] * size

    def __len__(self):
        return len(self.references)


class _Recorder(torch.nn.Module):
    """A generator that records which rows each pass asks it to generate for, and how."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def evaluate(self, batch, config, rows):
        self.calls.append((rows, config.strategy))
        count = len(batch) if rows is None else len(rows)
        return torch.tensor(1.0), len(batch), [[7]] * count

    def text(self, ids):
        return "a reply"


@pytest.mark.parametrize("fn", ["fit", "validate", "test"])
def test_only_validation_during_training_is_sampled_and_greedy(fn):
    """While fitting, validation generates with validation_decoding for an evenly spaced
    sample of validation_contexts; the best checkpoint's validation after training, evaluate
    and the test pass generate for every context with the configured decoding."""
    from types import SimpleNamespace

    from lightning.pytorch.trainer.states import TrainerFn

    from personafuse.lit.generation import GenerationModule

    network = _Recorder()
    module = GenerationModule(network, optimizer=None, decoding={"strategy": "beam"},
                              validation_decoding={"strategy": "greedy"},
                              validation_contexts=3)  # fmt: skip
    stage = {"fit": TrainerFn.FITTING, "validate": TrainerFn.VALIDATING,
             "test": TrainerFn.TESTING}[fn]  # fmt: skip
    module.trainer = SimpleNamespace(state=SimpleNamespace(fn=stage), world_size=1,
                                     global_rank=0, val_dataloaders=SimpleNamespace(
                                         dataset=range(10)))  # fmt: skip
    if fn == "test":
        module.on_test_epoch_start()
        steps = module.test_step
    else:
        module.on_validation_epoch_start()
        steps = module.validation_step
    for index, size in enumerate((4, 4, 2)):
        steps(_Batch(size), index)
    if fn == "fit":  # stride ceil(10 / 3) = 4: contexts 0, 4 and 8
        assert network.calls == [([0], "greedy"), ([0], "greedy"), ([0], "greedy")]
        assert [g[1] for g in module.generations["val"]] == [f"reference {i}" for i in (0, 0, 0)]
    else:
        assert network.calls == [(None, "beam")] * 3
        kind = "test" if fn == "test" else "val"
        assert len(module.generations[kind]) == 10
    assert module.metrics["test" if fn == "test" else "val"]["tokens"].compute() == 10


def test_table7_selects_by_bleu_over_the_whole_validation_split():
    from personafuse.config import compose_config

    default = compose_config(overrides=["model=unilm"])
    assert default.module.validation_contexts == 256
    assert default.module.validation_decoding.strategy == "greedy"
    table7 = compose_config(overrides=["experiment=table7"])
    assert table7.monitor == "val/bleu" and table7.callbacks.model_checkpoint.mode == "max"
    assert table7.module.validation_contexts is None
