"""From a composed config to a network, through the registries only: :func:`build_network`
asks the backbone of ``model.name`` to build it; nothing here knows which backbones exist."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import nn

from personafuse.backbones import BACKBONES, NetworkSpec
from personafuse.data.persona import fused_personas
from personafuse.data.schema import RankingExample

__all__ = ["build_network", "restore_network"]


def build_network(
    cfg,
    featurizer,
    train_examples: Sequence[RankingExample] = (),
    state_dict=None,
    encoder_config: str | None = None,
) -> nn.Module:
    """The network of ``cfg.model.name`` for ``cfg.fusion`` and ``cfg.persona``: batch -> (B, C)
    scores. ``state_dict`` (when restoring) gives the shapes of what is not learned;
    ``encoder_config`` a Hugging Face encoder's architecture (NetworkSpec)."""
    spec = NetworkSpec(
        model=cfg.model,
        fusion=cfg.fusion.name,
        personas=fused_personas(cfg.persona.name, cfg.persona.as_context),
        featurizer=featurizer,
        train_examples=train_examples,
        cache_dir=cfg.paths.cache_dir,
        seed=cfg.seed,
        state_dict=state_dict,
        encoder_config=encoder_config,
    )
    return BACKBONES.get(cfg.model.name).build(spec)


def restore_network(cfg, run_dir: Path, checkpoint: dict):
    """The featurizer a training run saved in ``run_dir`` and the network of ``cfg`` with the
    weights of ``checkpoint`` (loaded and verified by
    :func:`personafuse.checkpoints.load_verified`).

    Returns:
        ``(featurizer, network)``.
    """
    from hydra.utils import instantiate

    featurizer = instantiate(cfg.model.featurizer).load(run_dir)
    state = {key.removeprefix("network."): value for key, value in checkpoint["state_dict"].items()}
    network = build_network(cfg, featurizer, state_dict=state)
    network.load_state_dict(state)
    return featurizer, network
