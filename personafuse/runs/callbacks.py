"""The callbacks every run gets: a progress bar whose ETA also works for slow steps, and an
estimate of the run's duration from its first steps (with a warning and a smaller command when
it would take hours)."""

from __future__ import annotations

import time

from lightning.pytorch.callbacks import Callback, RichProgressBar

from personafuse.runs.console import format_duration

__all__ = ["FiniteLoss", "NonFiniteLossError", "ProgressBar", "RunEstimate"]


class NonFiniteLossError(ArithmeticError):
    """The training loss became NaN or infinite; the message says at which step."""


class FiniteLoss(Callback):
    """Stops a run whose training loss is NaN or infinite, with one line saying at which step,
    instead of training on to meaningless scores (a sweep records the job as failed and goes
    on)."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        import torch

        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, torch.Tensor) and not bool(torch.isfinite(loss).all()):
            raise NonFiniteLossError(
                f"train/loss is {float(loss)} at step {trainer.global_step}: lower "
                "model.optimizer.lr, or check the data"
            )


class ProgressBar(RichProgressBar):
    """Lightning's rich bar, whose ETA also works when a step takes longer than 30 s: rich
    estimates speed from the samples of its last ``speed_estimate_period`` seconds (30 by
    default), so with slower steps it has fewer than two samples and shows ``-:--:--``."""

    def __init__(self, speed_estimate_period: float = 3600.0, **kwargs):
        super().__init__(**kwargs)
        self.speed_estimate_period = speed_estimate_period

    def _init_progress(self, trainer) -> None:
        super()._init_progress(trainer)
        if self.progress is not None:
            self.progress.speed_estimate_period = self.speed_estimate_period


class RunEstimate(Callback):
    """Times the first training steps and prints how long the training will take, then, after
    the first validation, how long the whole run will take; warns with a smaller command when
    that is more than ``warn_hours``.

    Args:
        warmup_steps: Steps not timed (the first ones allocate and compile).
        timed_steps: Steps timed; the estimate is printed after them or after
            ``timed_seconds``, whichever comes first.
        timed_seconds: Longest time spent timing before estimating.
        warn_hours: A run estimated longer than this gets the warning.
        smaller: The command suggested instead.
    """

    def __init__(
        self,
        warmup_steps: int = 2,
        timed_steps: int = 10,
        timed_seconds: float = 20.0,
        warn_hours: float = 3.0,
        smaller: str = "python -m personafuse.train experiment=demo",
    ):
        self.warmup_steps = warmup_steps
        self.timed_steps = timed_steps
        self.timed_seconds = timed_seconds
        self.warn_hours = warn_hours
        self.smaller = smaller
        self.seconds_per_step: float | None = None
        self.validation_seconds: float | None = None
        self._start_step: int | None = None
        self._start: float = 0.0
        self._validation_start: float | None = None

    @staticmethod
    def _say(trainer, text: str) -> None:
        if trainer.is_global_zero:
            # Printed through the progress bar's console when it is live, so the bar stays.
            console = getattr(trainer.progress_bar_callback, "_console", None)
            if console is None:
                from rich.console import Console

                console = Console()
            console.print(text, highlight=False)

    def total_steps(self, trainer) -> float:
        """Optimiser steps of the whole fit (``inf`` without ``max_steps`` or ``max_epochs``)."""
        return float(trainer.estimated_stepping_batches)

    def validations(self, trainer) -> int:
        """Validation passes in this fit, roughly: one per ``val_check_interval`` of every
        ``check_val_every_n_epoch``-th epoch, and at least the one at the end."""
        if not trainer.enable_validation:
            return 0
        batches = trainer.num_training_batches
        if not batches or batches == float("inf"):
            return 1
        steps_per_epoch = max(1.0, batches / trainer.accumulate_grad_batches)
        if self.total_steps(trainer) == float("inf"):
            return 1
        epochs = self.total_steps(trainer) / steps_per_epoch
        if trainer.check_val_every_n_epoch is None:  # every val_check_batch batches overall
            return max(1, int(epochs * batches // trainer.val_check_batch))
        per_epoch = max(1, int(batches // trainer.val_check_batch))
        return max(1, round(epochs / trainer.check_val_every_n_epoch * per_epoch))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if self.seconds_per_step is not None or trainer.sanity_checking:
            return
        if self._start_step is None:
            if step >= self.warmup_steps:
                self._start_step, self._start = step, time.perf_counter()
            return
        elapsed = time.perf_counter() - self._start
        timed = step - self._start_step
        if timed >= self.timed_steps or (timed and elapsed >= self.timed_seconds):
            self.seconds_per_step = elapsed / timed
            total = self.total_steps(trainer)
            if total == float("inf"):
                self._say(trainer, f"estimate: {self.seconds_per_step:.2f} s/step, no step limit")
                return
            total = int(total)
            left = self.seconds_per_step * max(0, total - step)
            self._say(
                trainer,
                f"estimate: training ≈ {format_duration(left)} ({total} steps × "
                f"{self.seconds_per_step:.2f} s) + {self.validations(trainer)} validation(s)",
            )
            self._warn_if_long(trainer, left)

    def on_validation_start(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking and self.validation_seconds is None:
            self._validation_start = time.perf_counter()

    def on_validation_end(self, trainer, pl_module) -> None:
        if self._validation_start is None or self.validation_seconds is not None:
            return
        if self.total_steps(trainer) == float("inf"):
            return
        self.validation_seconds = time.perf_counter() - self._validation_start
        if self._start_step is not None:
            self._start += self.validation_seconds  # keep validation out of the step timing
        passes_left = max(0, self.validations(trainer) - 1)
        per_step = self.seconds_per_step or 0.0
        left = per_step * max(0, self.total_steps(trainer) - trainer.global_step)
        left += passes_left * self.validation_seconds
        if passes_left or left > 0:
            self._say(
                trainer,
                f"estimate: a validation takes {format_duration(self.validation_seconds)}; "
                f"the rest of the run ≈ {format_duration(left)}",
            )

    def _warn_if_long(self, trainer, seconds: float) -> None:
        if seconds > self.warn_hours * 3600:
            self._say(
                trainer,
                f"[yellow]warning:[/] ≈ {format_duration(seconds)} of training at these sizes "
                f"on this device. A run of minutes: {self.smaller}; or shorten this one with "
                "trainer.max_steps=N (docs/configuration.md)",
            )
