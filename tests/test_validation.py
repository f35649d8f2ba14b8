"""Nonsense settings fail when the config is composed, in one line naming the key, the value
and what is allowed, before any data is read; never a traceback from deep inside."""

from __future__ import annotations

import pytest

from personafuse.config import ConfigError, compose_config
from personafuse.runs.checks import RULES, Rule, check_config
from personafuse.train import train

from .conftest import run_train_cli

CASES = [
    (
        ["model.featurizer.max_utterances=0"],
        "model.featurizer.max_utterances=0: must be an integer ≥ 1",
    ),
    (["model.featurizer.max_utterance_words=0"], "max_utterance_words=0: must be an integer ≥ 1"),
    (["model.featurizer.max_response_words=0"], "max_response_words=0: must be an integer ≥ 1"),
    (["model.featurizer.max_profiles=0"], "model.featurizer.max_profiles=0: must be an integer"),
    (["model=bert", "model.max_len=0"], "model.max_len=0: must be an integer ≥ 8"),
    (["model.optimizer.lr=-0.001"], "model.optimizer.lr=-0.001: must be a number > 0"),
    (["model.train_batch_size=abc"], "model.train_batch_size=abc: must be an integer ≥ 1"),
    (["model.train_batch_size=0"], "model.train_batch_size=0: must be an integer ≥ 1"),
    (["model.backbone.hidden_size=0"], "model.backbone.hidden_size=0: must be an integer ≥ 1"),
    (["model.train_negatives=0"], "model.train_negatives=0: must be an integer ≥ 1, or null"),
    (["dataset.dialogues.valid=0"], "dataset.dialogues.valid=0: must be an integer ≥ 1"),
    (["model.dropout=1.5"], "model.dropout=1.5: must be a number ≥ 0 and < 1"),
    (["monitor=val/bogus"], "monitor=val/bogus: not a validation metric the module logs; valid"),
    (["model=unilm", "monitor=val/hits@1"], "monitor=val/hits@1: not a validation metric the"),
    (
        ["model=unilm", "monitor=val/perplexity"],
        "callbacks.model_checkpoint.mode=max: the best checkpoint would be the worst; set "
        "callbacks.model_checkpoint.mode=min",
    ),
    (["model=unilm", "module.decoding.strategy=topk"], "strategy='topk'; valid choices: greedy"),
    (
        ["model=unilm", "module.validation_decoding.strategy=topk"],
        "module.validation_decoding.strategy='topk'; valid choices: greedy",
    ),
    (
        ["model=unilm", "module.validation_contexts=0"],
        "module.validation_contexts=0: must be an integer ≥ 1, or null",
    ),
    (["trainer.limit_val_batches=-2"], "trainer.limit_val_batches=-2: must be an integer ≥ 1"),
    (["model.backbone.char_windows=[3,0]"], "model.backbone.char_windows=[3, 0]: must be a list"),
    (
        ["model=imn", "model.backbone.fusion_response=last"],
        "model.backbone.fusion_response=last; valid choices: sentence, matched",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), CASES)
def test_bad_values_fail_in_one_line_before_any_data_is_read(tmp_path, overrides, message):
    # No data exists at this data_dir: reading any would fail with another error.
    cfg = compose_config(
        overrides=["dataset=personachat", f"paths.data_dir={tmp_path}/none", *overrides]
        if "dataset.dialogues.valid=0" not in overrides
        else [f"paths.cache_dir={tmp_path}/none", *overrides]
    )
    cfg.paths.output_dir = str(tmp_path / "run")
    with pytest.raises(ConfigError) as caught:
        train(cfg)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert not (tmp_path / "none").exists()


def test_the_shipped_configs_are_valid():
    for overrides in (
        [],
        ["model=imn"],
        ["model=bert"],
        ["experiment=demo"],
        ["experiment=bert_demo"],
        ["model=unilm"],
        ["model=unilm", "monitor=val/perplexity", "callbacks.model_checkpoint.mode=min"],
        ["experiment=table7"],
    ):
        check_config(compose_config(overrides=overrides))


def test_a_bad_value_on_the_command_line_exits_non_zero_with_one_line(tmp_path):
    result = run_train_cli(["model.optimizer.lr=-0.001", f"hydra.run.dir={tmp_path}/run"], tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: model.optimizer.lr=-0.001: must be a number > 0"
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        (Rule(int, 1), [1, 7], [0, -1, 1.5, "3", True, None]),
        (Rule(float, 0, low_open=True), [1e-5, 2, 0.5], [0, -1e-3, float("nan"), float("inf")]),
        (Rule(float, 0, 1, high_open=True), [0, 0.99], [1, 1.2, -0.1]),
        (Rule(int, 1, optional=True), [None, 3], [0]),
    ],
)
def test_rules(rule, good, bad):
    assert all(rule.accepts(v) for v in good)
    assert not any(rule.accepts(v) for v in bad)


def test_every_rule_names_a_key_some_shipped_config_has():
    keys = set()
    for overrides in ([], ["model=imn"], ["model=bert"], ["model=unilm"]):
        cfg = compose_config(overrides=overrides)
        from omegaconf import OmegaConf

        keys |= {k for k in RULES if OmegaConf.select(cfg, k, default="<absent>") != "<absent>"}
    assert keys == set(RULES)


def test_bf16_on_a_device_without_it_fails_at_config_time(tmp_path, monkeypatch):
    import personafuse.runs.checks as validation

    monkeypatch.setattr(validation, "bf16_supported", lambda device: False)
    cfg = compose_config(overrides=["trainer.precision=bf16-mixed", "trainer.accelerator=cpu",
                                    f"paths.cache_dir={tmp_path}/none"])  # fmt: skip
    cfg.paths.output_dir = str(tmp_path / "run")
    with pytest.raises(ConfigError) as caught:
        train(cfg)
    assert str(caught.value) == (
        "trainer.precision=bf16-mixed: bf16 is not supported on this CPU (no native bf16, e.g. "
        "AVX2 without AVX-512); use trainer.precision=32-true"
    )
    assert not (tmp_path / "none").exists()
    check_config(compose_config(overrides=["trainer.precision=32-true"]))


def test_an_avx2_cpu_refuses_bf16_in_one_line(tmp_path):
    """oneDNN limited to AVX2 (what a CPU without AVX-512 offers) has no bf16 LSTM: the real
    probe sees it, and training stops at config time instead of inside the first LSTM."""

    env = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
    result = run_train_cli(["trainer.precision=bf16-mixed", "trainer.accelerator=cpu",
                            f"hydra.run.dir={tmp_path}/run"], tmp_path, env=env)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: trainer.precision=bf16-mixed: bf16 is not supported on this CPU (no native "
        "bf16, e.g. AVX2 without AVX-512); use trainer.precision=32-true"
    )
    assert "Traceback" not in result.stderr
