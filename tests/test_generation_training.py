"""model=unilm end to end: the CA layout of the source, the real configs training and
generating for no, self and partner persona, evaluate on its checkpoint, and clear errors."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

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


@pytest.mark.parametrize("persona", ["none", "self", "partner"])
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


def test_a_ranking_fusion_for_the_generator_is_a_clear_error(tiny_bert, tmp_path):
    result = run_train_cli(_tiny(tiny_bert, tmp_path, "fusion=ra"), tmp_path)
    assert result.returncode == 1
    assert "fusion=ra cannot serve model=unilm; fusions that serve it: ca" in result.stderr
    assert "Traceback" not in result.stderr
