"""The generation LightningModule (the paper's Table 7): teacher-forced training, and passes
that log loss, perplexity, BLEU, Dist-1/2 and length and keep each generated response."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.trainer.states import TrainerFn
from torch import nn
from torchmetrics import MeanMetric, SumMetric

from personafuse.generation.decoding import DecodingConfig
from personafuse.generation.metrics import GENERATION_METRICS, response_scores
from personafuse.lit.base import PersonafuseModule, gather_in_order

__all__ = ["GENERATIONS_HEADER", "GenerationModule", "sample_rows"]

GENERATIONS_HEADER = ("context_id", "persona", "reference", "hypothesis", *GENERATION_METRICS)


def sample_rows(seen: int, size: int, stride: int, world: int = 1, rank: int = 0) -> list[int]:
    """Rows of a batch in the evenly spaced sample of a split: contexts whose index in the
    split is a multiple of ``stride``. The batch holds this process's contexts ``seen`` to
    ``seen + size - 1``; process ``rank`` of ``world`` scores contexts rank, rank + world, …
    (:class:`~personafuse.data.sampling.ShardSampler`), so every process count picks the
    same contexts."""
    return [row for row in range(size) if ((seen + row) * world + rank) % stride == 0]


class GenerationModule(PersonafuseModule):
    """Trains a generator network (``loss(batch, label_smoothing)``, ``evaluate(batch, config,
    rows)``, ``text(ids)``; e.g. :class:`~personafuse.backbones.unilm.UnilmGenerator`).

    Validation and test log ``{stage}/loss`` and ``{stage}/perplexity`` (per target token,
    over every context) and, from the responses generated, ``{stage}/bleu``, ``dist1``,
    ``dist2`` (in %) and ``length`` (words), synchronised across processes.

    The validations during training are cheap: they generate, with ``validation_decoding``,
    for an evenly spaced sample of ``validation_contexts`` contexts of the split (the same
    contexts each time, whatever the number of processes). The passes after training (the
    best checkpoint's validation and test in ``metrics.json``), ``evaluate`` and ``generate``
    generate for every context with ``decoding``.

    Args:
        network: The generator.
        optimizer, scheduler, scheduler_interval, no_decay: As for every module.
        decoding: :class:`DecodingConfig` settings of every pass after training (and of
            ``evaluate`` and ``generate``).
        validation_decoding: Settings of the validations during training, over ``decoding``
            (e.g. ``{"strategy": "greedy"}``; None: ``decoding`` itself).
        label_smoothing: Of the training loss (0: plain cross-entropy).
        generate_in_validation: Generate during validation (BLEU etc. each epoch); without
            it validation logs loss and perplexity only.
        validation_contexts: How many validation contexts the validations during training
            generate for (None: every one).
    """

    task = "generation"
    network: Any  # loss(), evaluate() and text() of a generator backbone

    def __init__(
        self,
        network: nn.Module,
        optimizer: Callable | None,
        scheduler: Callable | None = None,
        scheduler_interval: str = "step",
        no_decay: Sequence[str] = (),
        decoding: dict | None = None,
        validation_decoding: dict | None = None,
        label_smoothing: float = 0.0,
        generate_in_validation: bool = True,
        validation_contexts: int | None = None,
    ):
        super().__init__(optimizer, scheduler, scheduler_interval, no_decay)
        decoding = dict(decoding or {})
        validation_decoding = dict(validation_decoding or {})
        self.decoding = {"fit": DecodingConfig(**(decoding | validation_decoding)),
                         "full": DecodingConfig(**decoding)}  # fmt: skip
        self.label_smoothing = label_smoothing
        self.generate_in_validation = generate_in_validation
        self.validation_contexts = validation_contexts
        self._sample: tuple[int, int] | None = None  # (stride, contexts seen) while fitting
        self.save_hyperparameters(
            {
                "scheduler_interval": scheduler_interval,
                "no_decay": list(no_decay),
                "decoding": decoding,
                "validation_decoding": validation_decoding,
                "label_smoothing": float(label_smoothing),
                "generate_in_validation": bool(generate_in_validation),
                "validation_contexts": validation_contexts,
            }
        )
        self.network = network
        self.metrics = nn.ModuleDict(
            {
                stage: nn.ModuleDict(
                    {
                        "nll": SumMetric(),
                        "tokens": SumMetric(),
                        **{name: MeanMetric() for name in GENERATION_METRICS},
                    }
                )
                for stage in ("val", "test")
            }
        )
        # Per context of the last pass: (persona, reference, hypothesis, scores).
        self.generations: dict[str, list[tuple]] = {"val": [], "test": []}

    @classmethod
    def check_config(cls, module_cfg) -> None:
        """Raise :class:`~personafuse.config.ConfigError` for bad decoding settings, before
        any data is read."""
        from omegaconf import OmegaConf

        from personafuse.config import ConfigError

        base: dict = {}
        for key in ("decoding", "validation_decoding"):
            settings = module_cfg.get(key)
            if settings is None:
                continue
            values = OmegaConf.to_container(settings, resolve=True)
            if not isinstance(values, dict):
                raise ConfigError(f"module.{key}={values}: must be a mapping of decoding keys")
            settings = base | values
            try:
                DecodingConfig(**settings)
            except (TypeError, ValueError) as err:
                message = str(err).removeprefix("decoding.")
                raise ConfigError(f"module.{key}.{message}") from None
            base = settings

    @classmethod
    def validation_metrics(cls, module_cfg) -> list[str]:
        generated = [f"val/{m}" for m in GENERATION_METRICS]
        return ["val/loss", "val/perplexity", *generated]

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss, _, _ = self.network.loss(batch, self.label_smoothing)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch))
        return loss

    def on_validation_epoch_start(self) -> None:
        self.generations["val"] = []
        self._sample = None
        loader = self.trainer.val_dataloaders
        fitting = self.trainer.state.fn == TrainerFn.FITTING
        if fitting and self.validation_contexts is not None and loader is not None:
            total = len(loader.dataset)
            self._sample = (max(1, math.ceil(total / self.validation_contexts)), 0)

    def on_test_epoch_start(self) -> None:
        self.generations["test"] = []

    def _evaluate(self, stage: str, batch) -> None:
        metrics = self.stage_metrics(stage)
        rows: list[int] | None = None  # every context
        if stage == "val" and not self.generate_in_validation:
            rows = []
        elif stage == "val" and self._sample is not None:
            rows = self._sampled(len(batch))
        decoding = self.decoding["full"]
        if stage == "val" and self.trainer.state.fn == TrainerFn.FITTING:
            decoding = self.decoding["fit"]
        nll, tokens, generated = self.network.evaluate(batch, decoding, rows)
        metrics["nll"].update(nll)
        metrics["tokens"].update(tokens)
        for row, ids in zip(range(len(batch)) if rows is None else rows, generated, strict=True):
            hypothesis = self.network.text(ids)
            reference = batch.references[row]
            scores = response_scores(hypothesis, reference)
            self.generations[stage].append((batch.personas[row], reference, hypothesis, scores))
            for name in GENERATION_METRICS:
                scale = 1.0 if name == "length" else 100.0
                metrics[name].update(scale * scores[name])

    def _sampled(self, size: int) -> list[int]:
        """The rows of the next validation batch (of ``size``) that are in the sample."""
        stride, seen = self._sample or (1, 0)
        self._sample = (stride, seen + size)
        return sample_rows(seen, size, stride, self.trainer.world_size, self.trainer.global_rank)

    def _log_pass(self, stage: str) -> None:
        metrics = self.stage_metrics(stage)
        nll, tokens = metrics["nll"].compute(), metrics["tokens"].compute()
        loss = float(nll / tokens.clamp(min=1))
        self.log(f"{stage}/loss", loss, sync_dist=False)
        self.log(f"{stage}/perplexity", math.exp(min(loss, 50.0)), prog_bar=True)
        if stage == "test" or self.generate_in_validation:
            for name in GENERATION_METRICS:
                self.log(f"{stage}/{name}", metrics[name].compute(), prog_bar=name == "bleu")
        for metric in metrics.values():
            metric.reset()

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate("val", batch)

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate("test", batch)

    def on_validation_epoch_end(self) -> None:
        self._log_pass("val")

    def on_test_epoch_end(self) -> None:
        self._log_pass("test")

    # -- outputs for train / evaluate -----------------------------------------------------

    def pass_outputs(self, stage: str) -> list[tuple]:
        return gather_in_order(self.trainer, self.generations[stage])

    def write_outputs(self, directory: Path, split: str, examples: Sequence, outputs) -> Path:
        """``generations_{split}.tsv``: one line per context with its persona, the reference,
        the generated response and that response's BLEU, Dist-1, Dist-2 (0–1) and length."""
        path = Path(directory) / f"generations_{split}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(GENERATIONS_HEADER)
            for context_id, (persona, reference, hypothesis, scores) in enumerate(outputs):
                row = [context_id, persona, reference, hypothesis]
                writer.writerow(row + [f"{scores[m]:.6g}" for m in GENERATION_METRICS])
        return path

    def throughput(self, outputs) -> tuple[str, float]:
        return "words", float(sum(scores["length"] for *_, scores in outputs))
