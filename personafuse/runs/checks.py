"""The one check of a composed config, before any data is read: :func:`check_config`.

Every command that runs a config calls it (``train``, and ``evaluate``, ``generate``,
``Ranker`` and ``ResponseGenerator`` through :func:`personafuse.runs.restore_run`), after the
command line's own check (:mod:`personafuse.runs.overrides`: unknown choices and keys). In this
order, each failing with one line that names the key, the value and what is allowed:

1. the plugins of ``plugins=[...]`` are imported (they register backbones and strategies);
2. names: ``model`` and ``fusion`` are registered, the backbone serves the fusion, and the
   LightningModule does the backbone's task;
3. values: every numeric setting (:data:`RULES`, e.g. ``model.optimizer.lr=-0.001: must be a
   number > 0``; keys a config does not have are skipped), list entries, and bf16 where the
   device has it;
4. the backbone's own settings (``Backbone.check_config``) and the module's
   (``check_config`` of the LightningModule class);
5. the monitored metric: logged by the module, with the checkpoint mode that keeps the best.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from omegaconf import OmegaConf

from personafuse.config import ConfigError

__all__ = ["RULES", "Rule", "bf16_supported", "check_config"]


@dataclass(frozen=True)
class Rule:
    """What a value must be: an ``int`` or a ``float`` (ints are floats too) within bounds,
    optionally None."""

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    optional: bool = False

    def describe(self) -> str:
        what = "an integer" if self.kind is int else "a number"
        bounds = []
        if self.low is not None:
            bounds.append(f"{'>' if self.low_open else '≥'} {self.low:g}")
        if self.high is not None:
            bounds.append(f"{'<' if self.high_open else '≤'} {self.high:g}")
        text = f"{what} {' and '.join(bounds)}".strip()
        return f"{text}, or null" if self.optional else text

    def accepts(self, value) -> bool:
        if value is None:
            return self.optional
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind is int and not isinstance(value, int):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)


POSITIVE = Rule(int, 1)
NON_NEGATIVE = Rule(int, 0)
FRACTION = Rule(float, 0, 1, high_open=True)

RULES: dict[str, Rule] = {
    "seed": NON_NEGATIVE,
    "model.train_batch_size": POSITIVE,
    "model.eval_batch_size": POSITIVE,
    "model.train_negatives": Rule(int, 1, optional=True),
    "model.max_epochs": POSITIVE,
    "model.dropout": FRACTION,
    "model.mlp_hidden": POSITIVE,
    "model.max_len": Rule(int, 8),  # [CLS] and two [SEP] leave room for a few tokens
    "model.max_sequences": Rule(int, 1, optional=True),
    "model.featurizer.max_utterances": POSITIVE,
    "model.featurizer.max_utterance_words": POSITIVE,
    "model.featurizer.max_profiles": POSITIVE,
    "model.featurizer.max_profile_words": POSITIVE,
    "model.featurizer.max_response_words": POSITIVE,
    "model.featurizer.max_word_chars": POSITIVE,
    "model.featurizer.min_word_freq": POSITIVE,
    "model.embeddings.word2vec_dim": NON_NEGATIVE,
    "model.embeddings.word2vec_epochs": POSITIVE,
    "model.backbone.hidden_size": POSITIVE,
    "model.backbone.char_filters": POSITIVE,
    "model.optimizer.lr": Rule(float, 0, low_open=True),
    "model.optimizer.weight_decay": Rule(float, 0),
    "model.scheduler.step_size": POSITIVE,
    "model.scheduler.gamma": Rule(float, 0, 1, low_open=True),
    "model.scheduler.warmup_fraction": FRACTION,
    "dataset.dialogues.train": POSITIVE,
    "dataset.dialogues.valid": POSITIVE,
    "dataset.dialogues.test": POSITIVE,
    "module.validation_contexts": Rule(int, 1, optional=True),
    "datamodule.num_workers": NON_NEGATIVE,
    "datamodule.num_candidates": Rule(int, 2),
    "trainer.max_epochs": Rule(int, -1),
    "trainer.max_steps": Rule(int, -1),
    "trainer.log_every_n_steps": POSITIVE,
    "callbacks.last_checkpoint.every_n_train_steps": NON_NEGATIVE,
    "trainer.accumulate_grad_batches": POSITIVE,
    "trainer.check_val_every_n_epoch": Rule(int, 1, optional=True),
    "trainer.gradient_clip_val": Rule(float, 0, optional=True),
}
# Lightning's limit_*_batches and val_check_interval: a fraction of the batches, or a count.
BATCH_AMOUNTS = (
    "trainer.limit_train_batches",
    "trainer.limit_val_batches",
    "trainer.limit_test_batches",
    "trainer.val_check_interval",
)


def _batch_amount(value) -> bool:
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value >= 1 if isinstance(value, int) else 0.0 <= value <= 1.0


def _select(cfg, key: str):
    """(present, value) of a dotted key; interpolations resolved."""
    missing = object()
    value = OmegaConf.select(cfg, key, default=missing, throw_on_missing=False)
    return value is not missing, value


def _fail(key: str, value, allowed: str) -> ConfigError:
    return ConfigError(f"{key}={value}: must be {allowed}")


# Monitored metrics where lower is better (the checkpoint callback's mode must be min).
LOWER_IS_BETTER = ("val/loss", "val/perplexity")


def check_config(cfg) -> None:
    """Raise :class:`ConfigError` for the first of the problems above, in that order."""
    from personafuse.registry import import_plugins

    import_plugins(cfg.get("plugins") or ())
    backbone = _check_names(cfg)
    _check_values(cfg)
    backbone.check_config(cfg.model)
    module_class = _module_class(cfg)
    if module_class is not None and hasattr(module_class, "check_config"):
        module_class.check_config(cfg.module)
    _check_monitor(cfg)


def _check_names(cfg):
    """The registered backbone of ``model.name``, which serves ``fusion.name`` and whose task
    the configured module does."""
    from personafuse.backbones import BACKBONES
    from personafuse.data.persona import fused_personas
    from personafuse.fusion import FUSIONS

    if cfg.model.name not in BACKBONES:
        raise ConfigError(f"model={cfg.model.name}: {BACKBONES.unknown(cfg.model.name)}")
    backbone = BACKBONES.get(cfg.model.name)
    if cfg.fusion.name not in FUSIONS:
        raise ConfigError(f"fusion={cfg.fusion.name}: {FUSIONS.unknown(cfg.fusion.name)}")
    if fused_personas(cfg.persona.name, cfg.persona.as_context):
        fusion = FUSIONS.get(cfg.fusion.name)
        if not backbone.serves(fusion):
            served = [name for name, entry in FUSIONS.items() if backbone.serves(entry)]
            raise ConfigError(
                f"fusion={cfg.fusion.name} cannot serve model={cfg.model.name}; fusions that "
                f"serve it: {', '.join(served)}"
            )
    module_task = getattr(_module_class(cfg), "task", None)
    if module_task is not None and module_task != backbone.task:
        raise ConfigError(
            f"model={cfg.model.name} is a {backbone.task} model but module={module_task}; "
            f"choose module={backbone.task}"
        )
    return backbone


def _check_values(cfg) -> None:
    for key, rule in RULES.items():
        present, value = _select(cfg, key)
        if present and not rule.accepts(value):
            raise _fail(key, value, rule.describe())
    for key in BATCH_AMOUNTS:
        present, value = _select(cfg, key)
        if present and not _batch_amount(value):
            raise _fail(key, value, "an integer ≥ 1 (batches) or a number in [0, 1] (fraction)")
    _check_precision(cfg)
    _check_list(cfg, "model.backbone.char_windows", POSITIVE)
    _check_list(cfg, "module.hits_k", POSITIVE)


def _check_monitor(cfg) -> None:
    present, monitor = _select(cfg, "monitor")
    _, mode = _select(cfg, "callbacks.model_checkpoint.mode")
    if present and mode is not None and (mode == "min") != (monitor in LOWER_IS_BETTER):
        better = "min" if monitor in LOWER_IS_BETTER else "max"
        raise ConfigError(
            f"monitor={monitor} with callbacks.model_checkpoint.mode={mode}: the best "
            f"checkpoint would be the worst; set callbacks.model_checkpoint.mode={better}"
        )
    logged = _validation_metrics(cfg)
    if present and logged is not None and monitor not in logged:
        raise ConfigError(
            f"monitor={monitor}: not a validation metric the module logs; valid choices: "
            f"{', '.join(logged)}"
        )


@functools.cache
def bf16_supported(device_type: str) -> bool:
    """Whether bfloat16 autocast runs on this machine's ``cuda`` or ``cpu`` device.

    On a CPU without native bf16 (AVX2 only, no AVX-512), oneDNN has no bf16 LSTM and fails
    inside the first recurrent layer, so the CPU is probed with a tiny LSTM under autocast,
    the operation that fails there. Other device types (``mps``) are left to PyTorch.
    """
    import torch

    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type != "cpu":
        return True
    lstm = torch.nn.LSTM(4, 4, batch_first=True)
    try:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            lstm(torch.zeros(1, 2, 4))
    except RuntimeError:
        return False
    return True


def _check_precision(cfg) -> None:
    """A bf16 ``trainer.precision`` on a device without bf16 fails here, in one line."""
    present, precision = _select(cfg, "trainer.precision")
    if not present or "bf16" not in str(precision):
        return
    _, accelerator = _select(cfg, "trainer.accelerator")
    import torch

    if accelerator in ("gpu", "cuda", "auto") and torch.cuda.is_available():
        device, name = "cuda", f"this GPU ({torch.cuda.get_device_name()})"
    elif accelerator in ("cpu", "auto"):
        device, name = "cpu", "this CPU (no native bf16, e.g. AVX2 without AVX-512)"
    else:  # no GPU for accelerator=gpu, mps, tpu: Lightning decides and says
        return
    if not bf16_supported(device):
        raise ConfigError(
            f"trainer.precision={precision}: bf16 is not supported on {name}; use "
            "trainer.precision=32-true"
        )


def _check_list(cfg, key: str, rule: Rule) -> None:
    present, values = _select(cfg, key)
    if not present:
        return
    if not OmegaConf.is_list(values) and not isinstance(values, (list, tuple)):
        raise _fail(key, values, f"a list of {rule.describe()}")
    for value in values:
        if not rule.accepts(value):
            raise _fail(key, list(values), f"a list of {rule.describe()}")


def _module_class(cfg):
    """The configured LightningModule class, or None when it cannot be imported yet."""
    present, target = _select(cfg, "module._target_")
    if not present:
        return None
    from hydra.utils import get_class

    try:
        return get_class(target)
    except Exception:  # a user's module that is not importable yet: Hydra reports it later
        return None


def _validation_metrics(cfg) -> list[str] | None:
    """What the configured LightningModule logs in validation, or None when it does not say."""
    module_class = _module_class(cfg)
    declared = getattr(module_class, "validation_metrics", None)
    try:
        return list(declared(cfg.module)) if declared else None
    except NotImplementedError:
        return None
