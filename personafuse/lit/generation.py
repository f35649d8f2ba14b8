"""The generation LightningModule (the paper's Table 7): teacher-forced training, and passes
that log loss, perplexity, BLEU, Dist-1/2 and length and keep each generated response."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn
from torchmetrics import MeanMetric, SumMetric

from personafuse.generation.decoding import DecodingConfig
from personafuse.generation.metrics import GENERATION_METRICS, response_scores
from personafuse.lit.base import PersonafuseModule, gather_in_order

__all__ = ["GENERATIONS_HEADER", "GenerationModule"]

GENERATIONS_HEADER = ("context_id", "persona", "reference", "hypothesis", *GENERATION_METRICS)


class GenerationModule(PersonafuseModule):
    """Trains a generator network (``loss(batch, label_smoothing)``, ``generate(batch,
    config)``, ``text(ids)``; e.g. :class:`~personafuse.backbones.unilm.UnilmGenerator`).

    Validation and test log ``{stage}/loss`` and ``{stage}/perplexity`` (per target token)
    and, from the responses generated for every context, ``{stage}/bleu``, ``dist1``,
    ``dist2`` (in %) and ``length`` (words), synchronised across processes.

    Args:
        network: The generator.
        optimizer, scheduler, scheduler_interval: As for every module.
        decoding: :class:`DecodingConfig` settings of the test pass (and of ``evaluate``).
        validation_decoding: Settings of the validation passes (default: ``decoding``).
        label_smoothing: Of the training loss (0: plain cross-entropy).
        generate_in_validation: Generate during validation (BLEU etc. each epoch); without
            it validation logs loss and perplexity only.
    """

    task = "generation"

    def __init__(
        self,
        network: nn.Module,
        optimizer: Callable | None,
        scheduler: Callable | None = None,
        scheduler_interval: str = "step",
        decoding: dict | None = None,
        validation_decoding: dict | None = None,
        label_smoothing: float = 0.0,
        generate_in_validation: bool = True,
    ):
        super().__init__(optimizer, scheduler, scheduler_interval)
        decoding = dict(decoding or {})
        validation_decoding = dict(validation_decoding or decoding)
        self.decoding = {"val": DecodingConfig(**validation_decoding),
                         "test": DecodingConfig(**decoding)}  # fmt: skip
        self.label_smoothing = label_smoothing
        self.generate_in_validation = generate_in_validation
        self.save_hyperparameters(
            {
                "scheduler_interval": scheduler_interval,
                "decoding": decoding,
                "validation_decoding": validation_decoding,
                "label_smoothing": float(label_smoothing),
                "generate_in_validation": bool(generate_in_validation),
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

        for key in ("decoding", "validation_decoding"):
            settings = module_cfg.get(key)
            if settings is None:
                continue
            try:
                DecodingConfig(**OmegaConf.to_container(settings, resolve=True))
            except (TypeError, ValueError) as err:
                message = str(err).removeprefix("decoding.")
                raise ConfigError(f"module.{key}.{message}") from None

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

    def on_test_epoch_start(self) -> None:
        self.generations["test"] = []

    def _evaluate(self, stage: str, batch) -> None:
        metrics = self.metrics[stage]
        _, nll, tokens = self.network.loss(batch)
        metrics["nll"].update(nll)
        metrics["tokens"].update(tokens)
        if stage == "val" and not self.generate_in_validation:
            return
        generated = self.network.generate(batch, self.decoding[stage])
        for persona, reference, ids in zip(batch.personas, batch.references, generated,
                                           strict=True):  # fmt: skip
            hypothesis = self.network.text(ids)
            scores = response_scores(hypothesis, reference)
            self.generations[stage].append((persona, reference, hypothesis, scores))
            for name in GENERATION_METRICS:
                scale = 1.0 if name == "length" else 100.0
                metrics[name].update(scale * scores[name])

    def _log_pass(self, stage: str) -> None:
        metrics = self.metrics[stage]
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
