"""The one route from a checkpoint back to a working run: :func:`restore_run`.

``evaluate``, ``generate``, :class:`~personafuse.inference.Ranker`,
:class:`~personafuse.inference.ResponseGenerator`, ``index``, ``chat`` and ``serve`` all
restore through it: the checkpoint is verified, one written by another personafuse version
(major.minor) is refused, the training run's config is composed again from its recorded
overrides (plus the caller's), checked like ``train`` checks it, and the network is rebuilt
with the run's saved featurizer and the checkpoint's weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personafuse.checkpoints import KEY, CheckpointError, load_verified
from personafuse.config import compose_config
from personafuse.data.persona import fused_personas
from personafuse.runs.checks import check_config
from personafuse.runs.directory import run_directory, training_overrides
from personafuse.runs.network import restore_network
from personafuse.runs.overrides import check_overrides

__all__ = ["RestoredRun", "restore_run"]


@dataclass
class RestoredRun:
    """A training run rebuilt from one of its checkpoints.

    Attributes:
        path: The checkpoint file.
        run_dir: The training run's directory.
        cfg: Its config, with the caller's overrides.
        featurizer: The featurizer the run saved (vocabulary or tokenizer).
        network: The network with the checkpoint's weights, in eval mode.
        checkpoint: The loaded, verified checkpoint (its ``state_dict``, hyperparameters, …).
    """

    path: Path
    run_dir: Path
    cfg: Any  # an omegaconf DictConfig
    featurizer: Any
    network: Any  # a torch.nn.Module: batch -> scores, or a generator
    checkpoint: dict

    @property
    def personas(self) -> tuple[str, ...]:
        """The personas the network reads."""
        return fused_personas(self.cfg.persona.name, bool(self.cfg.persona.as_context))

    @property
    def task(self) -> str:
        """``ranking`` or ``generation``: the task of the run's backbone."""
        from personafuse.backbones import BACKBONES

        return BACKBONES.get(self.cfg.model.name).task

    @property
    def identity(self) -> dict:
        """What names the model to others (a response pool's index, the server's health):
        the checkpoint's path and weights digest, and the run's model, fusion and persona."""
        return {
            "path": str(self.path.resolve()),
            "weights_sha256": self.checkpoint[KEY]["weights_sha256"],
            "model": self.cfg.model.name,
            "fusion": self.cfg.fusion.name if self.personas else "none",
            "persona": self.cfg.persona.name,
        }

    def card(self) -> dict:
        """What a model card reports of the run: its ``metrics.json`` and its command."""
        path = self.run_dir / "metrics.json"
        try:
            metrics = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            metrics = {}
        scores = {k: v for k, v in metrics.items() if k.startswith(("val/", "test/"))
                  and isinstance(v, (int, float))}  # fmt: skip
        overrides = training_overrides(self.run_dir)
        return {"metrics": scores,
                "command": " ".join(["python -m personafuse.train", *overrides])}  # fmt: skip

    def require_task(self, task: str, instead: str) -> None:
        """Raise :class:`CheckpointError` unless the run does ``task``; ``instead`` says what
        reads this checkpoint."""
        if self.task != task:
            raise CheckpointError(
                f"{self.path}: a {self.task} checkpoint (model={self.cfg.model.name}); use "
                f"{instead}"
            )

    def module(self):
        """The run's LightningModule around :attr:`network`: its class and saved settings, with
        the config's ``module.*`` values (e.g. ``module.decoding.strategy=beam``) over them."""
        from hydra.utils import get_class
        from omegaconf import OmegaConf

        module_class = get_class(self.cfg.module._target_)
        settings = dict(self.checkpoint["hyper_parameters"])
        for key in settings.keys() & set(self.cfg.module.keys()):
            value = self.cfg.module[key]
            settings[key] = (
                OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
            )
        module = module_class(network=self.network, optimizer=None, **settings)
        module.load_state_dict(self.checkpoint["state_dict"])
        return module


def restore_run(
    ckpt_path: str | Path, overrides: list[str] | tuple[str, ...] = (), device: str = "cpu"
) -> RestoredRun:
    """Rebuild the training run of ``ckpt_path`` (``RUN/checkpoints/NAME.ckpt``).

    Args:
        ckpt_path: The checkpoint.
        overrides: Config overrides over the run's own (e.g. ``dataset.version=revised``).
        device: Where the network goes (``auto``: the GPU when there is one).

    Raises:
        CheckpointError: No such file, not a usable checkpoint of this version, or a network
            that cannot be rebuilt from the run.
        ConfigError: An override with an unknown choice or key, or a setting out of range.
    """
    import torch

    from personafuse import __version__

    path = Path(ckpt_path)
    run_dir = run_directory(path)
    composed = [*training_overrides(run_dir), *overrides]
    check_overrides(composed)  # first: a bad override is named even beside a wrong path
    if not path.is_file():
        raise CheckpointError(f"ckpt_path={ckpt_path}: no such file")
    checkpoint = load_verified(path)
    written = checkpoint[KEY].get("version", "unknown")
    if written.split(".")[:2] != __version__.split(".")[:2]:
        raise CheckpointError(
            f"{path}: written by personafuse {written}, this is {__version__}; load it "
            f"with personafuse {written} or retrain"
        )
    cfg = compose_config(overrides=composed)
    check_config(cfg)
    try:
        featurizer, network = restore_network(cfg, run_dir, checkpoint)
    except (FileNotFoundError, RuntimeError, ValueError) as err:
        reason = str(err).split("\n")[0]
        raise CheckpointError(f"{path}: cannot restore its network: {reason}") from None
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return RestoredRun(path, run_dir, cfg, featurizer, network.eval().to(device), checkpoint)
