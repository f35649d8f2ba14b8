"""The ranking LightningModule (the generation one is :mod:`personafuse.lit.generation`):
listwise or binary loss, ranking metrics and optimisation, for any scoring network."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric

from personafuse.lit.base import PersonafuseModule, gather_in_order
from personafuse.scoring.metrics import per_context, ranks
from personafuse.scoring.predictions import write_predictions

__all__ = ["LOSSES", "RankingModule"]

LOSSES = ("listwise", "binary")


class RankingModule(PersonafuseModule):
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
        no_decay: Names whose parameters get no weight decay (the base class's).
        hits_k: The k of the logged hits@k.
        loss: ``listwise`` or ``binary``.

    A scheduler factory that takes ``total_steps`` (e.g. linear warm-up and decay) gets the
    trainer's estimate of the run's optimiser steps.
    """

    task = "ranking"

    def __init__(
        self,
        network: nn.Module,
        optimizer: Callable,
        scheduler: Callable | None = None,
        scheduler_interval: str = "step",
        no_decay: Sequence[str] = (),
        hits_k: tuple[int, ...] = (1, 2, 5),
        loss: str = "listwise",
    ):
        super().__init__(optimizer, scheduler, scheduler_interval, no_decay)
        if loss not in LOSSES:
            raise ValueError(f"module.loss={loss!r}; valid choices: {', '.join(LOSSES)}")
        self.loss = loss
        # Only plain values go into checkpoints (callables would not load with weights_only);
        # the full config is logged by the training script.
        self.save_hyperparameters(
            {
                "scheduler_interval": scheduler_interval,
                "no_decay": list(no_decay),
                "hits_k": [int(k) for k in hits_k],
                "loss": loss,
            }
        )
        self.network = network
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

    @classmethod
    def validation_metrics(cls, module_cfg) -> list[str]:
        return [f"val/hits@{k}" for k in module_cfg.get("hits_k") or ()] + ["val/mrr"]

    def pass_outputs(self, stage: str) -> list[torch.Tensor]:
        local = [row for scores in self.scores[stage] for row in scores]
        return gather_in_order(self.trainer, local)

    def write_outputs(self, directory: Path, split: str, examples: Sequence, outputs) -> Path:
        path = Path(directory) / f"predictions_{split}.tsv"
        scores = torch.stack(outputs) if outputs else torch.empty(0, 0)
        write_predictions(path, examples, scores)
        return path

    def throughput(self, outputs) -> tuple[str, float]:
        return "pairs", float(sum(row.numel() for row in outputs))

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
        rank = ranks(scores.float(), labels).float()
        values = {k.replace("@", "_at_"): v for k, v in per_context(rank, self.hits_k).items()}
        values["loss"] = F.cross_entropy(scores.float(), labels, reduction="none")
        for name, value in values.items():
            metric = self.stage_metrics(stage)[name]
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
