"""BERT training: dynamic negatives, binary loss, warm-up schedule, real configs end to end."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import torch

from personafuse.config import compose_config
from personafuse.data import read_personachat
from personafuse.data.datamodule import EpochShuffleSampler, NegativeSamplingDataset
from personafuse.lit import RankingModule, linear_warmup_decay
from personafuse.train import train

from .conftest import RAW, tiny_bert_training


@pytest.fixture(scope="module")
def examples():
    return read_personachat(RAW / "train_self_original.txt")[:8]


def test_dynamic_negatives_change_every_epoch_and_cycle_through_all(examples):
    dataset = NegativeSamplingDataset(examples, negatives=1, seed=3)
    example = examples[2]
    seen = []
    for epoch in range(19):
        item = dataset[2, epoch]
        assert item.num_candidates == 2
        assert item.candidates[item.label] == example.candidates[example.label]
        (negative,) = [c for i, c in enumerate(item.candidates) if i != item.label]
        seen.append(negative)
    assert all(a != b for a, b in itertools.pairwise(seen))
    true = example.candidates[example.label]
    assert sorted(seen) == sorted(c for c in example.candidates if c != true)
    assert dataset[2, 5] == NegativeSamplingDataset(examples, negatives=1, seed=3)[2, 5]
    assert {dataset[i, e].label for i in range(len(examples)) for e in range(3)} == {
        0,
        1,
    }  # the true one moves around


def test_epoch_sampler_reshuffles_per_epoch_and_is_seeded():
    sampler = EpochShuffleSampler(50, seed=1)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    assert {e for _, e in first} == {0} and {e for _, e in second} == {1}
    assert sorted(i for i, _ in second) == list(range(50))
    assert [i for i, _ in first] != [i for i, _ in second]
    sampler.set_epoch(0)
    assert list(sampler) == first


def test_zero_negatives_is_rejected(examples):
    with pytest.raises(ValueError, match="train_negatives"):
        NegativeSamplingDataset(examples, negatives=0)


def test_binary_loss_is_the_mean_bce_of_each_pair():
    scores = torch.tensor([[2.0, -1.0], [0.5, 0.25]])

    class Batch:
        labels = torch.tensor([0, 1])

    module = RankingModule(torch.nn.Identity(), torch.optim.Adam, loss="binary")
    module.log = lambda *args, **kwargs: None
    module.forward = lambda batch: scores
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        scores, torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    )
    torch.testing.assert_close(module.training_step(Batch(), 0), expected)
    with pytest.raises(ValueError, match="listwise, binary"):
        RankingModule(torch.nn.Identity(), torch.optim.Adam, loss="hinge")


def test_linear_warmup_then_decay():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = linear_warmup_decay(optimizer, total_steps=100, warmup_fraction=0.1)
    rates = []
    for _ in range(100):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] == 0.0 and rates[10] == pytest.approx(1.0)
    assert rates[5] == pytest.approx(0.5) and rates[55] == pytest.approx(0.5)
    assert rates[99] == pytest.approx(1 / 90)  # (100 - 99) / (100 - 10)


def _train(tmp_path: Path, tiny_bert: Path, overrides: list[str]) -> dict:
    cfg = compose_config(
        overrides=[
            *tiny_bert_training(tiny_bert),
            f"paths.cache_dir={tmp_path}/cache",
            *overrides,
        ]
    )
    cfg.paths.output_dir = str(tmp_path / "run")
    return train(cfg)


@pytest.mark.parametrize(
    "overrides",
    [
        ["fusion=cra", "persona=self", "trainer.limit_train_batches=4"],
        ["fusion=cra", "persona=self", "model.subtype=false", "trainer.fast_dev_run=true"],
        ["fusion=na", "persona=partner", "trainer.fast_dev_run=true"],
        ["fusion=ca", "persona=both", "trainer.fast_dev_run=true"],
        ["fusion=ra", "persona=self", "model.truncation=official", "trainer.fast_dev_run=true"],
        ["persona=none", "trainer.fast_dev_run=true"],
        ["persona=self", "persona.as_context=true", "trainer.fast_dev_run=true"],
    ],
    ids=[
        "cra-self-fit",
        "cra-no-subtype",
        "na-partner",
        "ca-both",
        "ra-official",
        "none",
        "self-only",
    ],
)
def test_bert_trains_and_tests_on_the_real_configs(tmp_path, tiny_bert, overrides):
    metrics = _train(tmp_path, tiny_bert, overrides)
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written == metrics and metrics["model"] == "bert"
    for key in ("val/hits@1", "val/mrr", "test/hits@1", "test/mrr"):
        assert 0.0 <= metrics[key] <= 1.0
    assert (tmp_path / "run" / "tokenizer" / "tokenizer.json").is_file()
    if "fit" in overrides[0]:
        assert metrics["steps"] == 4 and Path(metrics["best_checkpoint"]).is_file()


def test_bert_config_matches_the_paper():
    cfg = compose_config(overrides=["model=bert"])
    assert cfg.model.max_len == 320 and cfg.model.optimizer.lr == 2e-5
    assert cfg.datamodule.train_negatives == 1 and cfg.module.loss == "binary"
    assert 2 * cfg.model.train_batch_size == 12  # positives plus one negative each
    assert cfg.model.scheduler.warmup_fraction == 0.1
    hre = compose_config(overrides=["model=hre"])
    assert hre.datamodule.train_negatives is None and hre.module.loss == "listwise"


def test_evaluate_rebuilds_a_bert_checkpoint(tmp_path, tiny_bert):
    from personafuse.evaluate import evaluate

    overrides = ["fusion=ra", "persona=self", "trainer.limit_train_batches=2"]
    trained = _train(tmp_path, tiny_bert, overrides)
    # No Hydra record in this in-process run: the training overrides are passed again.
    evaluated = evaluate(
        trained["best_checkpoint"],
        [*tiny_bert_training(tiny_bert), *overrides],
        split="valid",
        out=tmp_path / "eval",
    )
    assert evaluated["valid/hits@1"] == pytest.approx(trained["val/hits@1"])
    assert evaluated["valid/mrr"] == pytest.approx(trained["val/mrr"])
    assert (tmp_path / "eval" / "predictions_valid.tsv").is_file()
