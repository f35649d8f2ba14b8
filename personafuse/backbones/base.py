"""The backbone registry and what every registered backbone answers.

A backbone is registered by name (``@BACKBONES.register("hre")``, the ``name`` of its
``conf/model/*.yaml``) and builds the whole scoring network for a composed config: a module
that maps a featurizer's batch to (B, C) candidate scores. The LightningModule only ever sees
those scores. Which fusion strategies a backbone serves is asked before any data is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from personafuse.data.schema import RankingExample
from personafuse.fusion.base import PersonaFusion
from personafuse.registry import Registry

__all__ = ["BACKBONES", "Backbone", "NetworkSpec"]

BACKBONES: Registry[type[Backbone]] = Registry("model")


@dataclass
class NetworkSpec:
    """What a backbone needs to build its network.

    Attributes:
        model: The composed ``model`` config (``cfg.model``).
        fusion: Registered fusion name; unused when ``personas`` is empty.
        personas: Which personas to fuse, e.g. ``("self",)``; ``()`` for none.
        featurizer: The fitted (or loaded) featurizer of ``model.featurizer``.
        train_examples: The training split, for what is learned from it before training
            (word2vec); empty when restoring from a checkpoint.
        cache_dir: Where to cache what is derived from the data (word2vec).
        seed: Seed of what is derived from the data.
        state_dict: When restoring, the checkpoint's network weights: shapes of tensors that
            are not learned (frozen word vectors) are read from here instead of rebuilt.
        encoder_config: When restoring, a directory with a Hugging Face encoder's
            ``config.json``: the encoder is built from it (the weights come from
            ``state_dict``) instead of being loaded from ``model.pretrained``.
    """

    model: Any
    fusion: str
    personas: tuple[str, ...]
    featurizer: Any
    train_examples: Sequence[RankingExample] = ()
    cache_dir: str | None = None
    seed: int = 0
    state_dict: Mapping[str, torch.Tensor] | None = field(default=None, repr=False)
    encoder_config: str | None = None


class Backbone(nn.Module):
    """Base of registered backbones.

    Attributes:
        provides: Optional outputs that matching features may require (e.g. ``utterances``).
        task: ``ranking`` or ``generation``.
    """

    provides: ClassVar[frozenset[str]] = frozenset()
    # What the network does: ``ranking`` (batch -> (B, C) scores) or ``generation``; the
    # configured LightningModule must be for the same task.
    task: ClassVar[str] = "ranking"

    @classmethod
    def serves(cls, fusion: type[PersonaFusion]) -> bool:
        """Whether this backbone can fuse a persona with ``fusion``."""
        raise NotImplementedError

    @classmethod
    def check_config(cls, model_cfg) -> None:
        """Raise :class:`~personafuse.config.ConfigError` for options this backbone cannot
        take; called when the config is composed, before any data is read."""

    @classmethod
    def build(cls, spec: NetworkSpec) -> nn.Module:
        """The scoring network: batch -> (B, C) scores."""
        raise NotImplementedError
