"""The one LightningModule: listwise loss, ranking metrics and optimisation, for any network."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric

from personafuse.checkpoints import restore_rng, rng_state, stamp
from personafuse.metrics import ranks

__all__ = ["LOSSES", "RankingModule", "linear_warmup_decay"]

LOSSES = ("listwise", "binary")


def linear_warmup_decay(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_fraction: float = 0.1
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_fraction`` of the steps, then linear decay to 0 (BERT)."""
    from transformers import get_linear_schedule_with_warmup

    warmup = int(total_steps * warmup_fraction)
    return get_linear_schedule_with_warmup(optimizer, warmup, total_steps)


class RankingModule(L.LightningModule):
    """Trains and evaluates a network that maps a batch to (B, C) candidate scores.

    The module does not know which backbone it holds. Training minimises the cross-entropy of
    the softmax over each context's candidates (``loss=listwise``, Eq. 18) or the binary
    cross-entropy of each candidate's sigmoid (``loss=binary``, BERT); validation and test score all
    candidates of a context in one forward and log ``{stage}/hits@k`` and ``{stage}/mrr``
    (pessimistic ties), averaged over contexts and synchronised across processes.

    Args:
        network: The scorer, e.g. :class:`~personafuse.backbones.PersonaRanker`.
        optimizer: Partial optimiser, called with the trainable parameters.
        scheduler: Partial LR scheduler, called with the optimiser, or None.
        scheduler_interval: ``step`` or ``epoch``.
        hits_k: The k of the logged hits@k.
        loss: ``listwise`` or ``binary``.

    A scheduler factory that takes ``total_steps`` (e.g. linear warm-up and decay) gets the
    trainer's estimate of the run's optimiser steps.
    """

    def __init__(
        self,
        network: nn.Module,
        optimizer: Callable,
        scheduler: Callable | None = None,
        scheduler_interval: str = "step",
        hits_k: tuple[int, ...] = (1, 2, 5),
        loss: str = "listwise",
    ):
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"module.loss={loss!r}; valid choices: {', '.join(LOSSES)}")
        self.loss = loss
        # Only plain values go into checkpoints (callables would not load with weights_only);
        # the full config is logged by the training script.
        self.save_hyperparameters(
            {
                "scheduler_interval": scheduler_interval,
                "hits_k": [int(k) for k in hits_k],
                "loss": loss,
            }
        )
        self.network = network
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.hits_k = tuple(hits_k)
        names = [f"hits@{k}" for k in self.hits_k] + ["mrr", "loss"]
        self.metrics = nn.ModuleDict(
            {
                stage: nn.ModuleDict({n.replace("@", "_at_"): MeanMetric() for n in names})
                for stage in ("val", "test")
            }
        )
        # (B, C) scores of the last validation/test pass, in dataloader order, for the
        # predictions file and per-context significance tests.
        self.scores: dict[str, list[torch.Tensor]] = {"val": [], "test": []}

    def forward(self, batch) -> torch.Tensor:
        return self.network(batch)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # A digest of the weights (verified when loaded) and every process's RNG states.
        states = [rng_state()]
        if self.trainer.world_size > 1:  # every process saves (rank 0 writes): gather them
            states = [None] * self.trainer.world_size
            torch.distributed.all_gather_object(states, rng_state())
        stamp(checkpoint, states)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # A resumed run draws the dropout masks the killed one would have drawn.
        restore_rng(checkpoint, self.trainer.global_rank if self._trainer is not None else 0)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        scores = self(batch)
        if self.loss == "binary":
            targets = F.one_hot(batch.labels, scores.shape[1]).to(scores.dtype)
            loss = F.binary_cross_entropy_with_logits(scores, targets)
        else:
            loss = F.cross_entropy(scores, batch.labels)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch.labels))
        return loss

    def on_validation_epoch_start(self) -> None:
        self.scores["val"] = []

    def on_test_epoch_start(self) -> None:
        self.scores["test"] = []

    def _evaluate(self, stage: str, batch) -> None:
        scores = self(batch)
        labels = batch.labels
        self.scores[stage].append(scores.detach().float().cpu())
        rank = ranks(scores.float(), labels)
        values = {f"hits_at_{k}": (rank <= k).float() for k in self.hits_k}
        values["mrr"] = 1.0 / rank.float()
        values["loss"] = F.cross_entropy(scores.float(), labels, reduction="none")
        for name, value in values.items():
            metric = self.metrics[stage][name]
            metric.update(value)
            self.log(
                f"{stage}/{name.replace('_at_', '@')}",
                metric,
                prog_bar=name in ("hits_at_1", "mrr"),
                batch_size=len(labels),
            )

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate("val", batch)

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate("test", batch)

    def configure_optimizers(self):
        optimizer = self.optimizer_factory([p for p in self.parameters() if p.requires_grad])
        if self.scheduler_factory is None:
            return optimizer
        if "total_steps" in inspect.signature(self.scheduler_factory).parameters:
            total = int(self.trainer.estimated_stepping_batches)
            scheduler = self.scheduler_factory(optimizer, total_steps=total)
        else:
            scheduler = self.scheduler_factory(optimizer)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": self.hparams.scheduler_interval},
        }
