"""What every personafuse LightningModule shares: verified checkpoints with RNG states,
optimisation from ``_partial_`` configs, and the hooks through which ``train`` and
``evaluate`` collect, time and write a pass's outputs without knowing the task."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

import lightning as L
import torch
from torch import nn
from torchmetrics import Metric

from personafuse.checkpoints import restore_rng, rng_state, stamp

__all__ = ["PersonafuseModule", "gather_in_order", "linear_warmup_decay"]


def linear_warmup_decay(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_fraction: float = 0.1
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_fraction`` of the steps, then linear decay to 0 (BERT)."""
    from transformers import get_linear_schedule_with_warmup

    warmup = int(total_steps * warmup_fraction)
    return get_linear_schedule_with_warmup(optimizer, warmup, total_steps)


def gather_in_order(trainer, local: list) -> list:
    """Per-context outputs of a pass in dataset order: this process's, or every process's
    shard (:class:`~personafuse.data.sampling.ShardSampler`: context i on rank i mod R) put
    back in order. Every process must call it."""
    if trainer.world_size == 1:
        return list(local)
    import torch.distributed as dist

    from personafuse.data.sampling import interleave_shards

    shards: list = [None] * trainer.world_size
    dist.all_gather_object(shards, list(local))
    return interleave_shards(shards)


class PersonafuseModule(L.LightningModule):
    """Base of the ranking and generation modules.

    Args:
        optimizer: Partial optimiser, called with the trainable parameters.
        scheduler: Partial LR scheduler, called with the optimiser (and ``total_steps``, the
            trainer's estimate of the run's optimiser steps, when it takes it), or None.
        scheduler_interval: ``step`` or ``epoch``.
        no_decay: Parameters whose names contain one of these get no weight decay (the
            official BERT optimiser: ``LayerNorm`` weights and ``bias``), in a second
            parameter group.
    """

    def __init__(
        self,
        optimizer: Callable | None,
        scheduler: Callable | None = None,
        scheduler_interval: str = "step",
        no_decay: Sequence[str] = (),
    ):
        super().__init__()
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self.no_decay = tuple(no_decay)

    # -- what a task declares -------------------------------------------------------------

    @classmethod
    def validation_metrics(cls, module_cfg) -> list[str]:
        """The ``val/…`` metrics the module logs (what ``monitor`` may choose)."""
        raise NotImplementedError

    def pass_outputs(self, stage: str) -> list:
        """Per-context outputs of the last ``stage`` pass (``val``/``test``), dataset order,
        gathered from every process."""
        raise NotImplementedError

    def write_outputs(self, directory: Path, split: str, examples: Sequence, outputs) -> Path:
        """Write a pass's per-context outputs for ``examples``; returns the file."""
        raise NotImplementedError

    def throughput(self, outputs) -> tuple[str, float]:
        """The unit and amount of work of a pass besides its contexts (Table 6), e.g.
        ``("pairs", N·C)``."""
        raise NotImplementedError

    def stage_metrics(self, stage: str) -> dict[str, Metric]:
        """The metrics of ``stage`` (``val``/``test``) by name, from ``self.metrics``."""
        stages = cast(nn.ModuleDict, self.metrics)
        return {name: cast(Metric, m) for name, m in cast(nn.ModuleDict, stages[stage]).items()}

    # -- shared machinery -----------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # A digest of the weights (verified when loaded) and every process's RNG states.
        states: list = [rng_state()]
        if self.trainer.world_size > 1:  # every process saves (rank 0 writes): gather them
            states = [None] * self.trainer.world_size
            torch.distributed.all_gather_object(states, rng_state())
        stamp(checkpoint, states)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # A resumed run draws the dropout masks the killed one would have drawn.
        restore_rng(checkpoint, self.trainer.global_rank if self._trainer is not None else 0)

    def parameter_groups(self) -> list:
        """The trainable parameters, as one list, or as two groups (the second without weight
        decay) with ``no_decay``."""
        named = [(name, p) for name, p in self.named_parameters() if p.requires_grad]
        if not self.no_decay:
            return [p for _, p in named]
        exempt = [any(key in name for key in self.no_decay) for name, _ in named]
        groups: list[dict] = [
            {"params": [p for (_, p), skip in zip(named, exempt, strict=True) if not skip]},
            {"params": [p for (_, p), skip in zip(named, exempt, strict=True) if skip],
             "weight_decay": 0.0},
        ]  # fmt: skip
        return [group for group in groups if group["params"]]

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(self.parameter_groups())
        if self.scheduler_factory is None:
            return optimizer
        if "total_steps" in inspect.signature(self.scheduler_factory).parameters:
            total = int(self.trainer.estimated_stepping_batches)
            scheduler = self.scheduler_factory(optimizer, total_steps=total)
        else:
            scheduler = self.scheduler_factory(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": self.scheduler_interval},
        }
