"""What a run shows on the console: one line saying what runs, a progress bar whose ETA also
works for slow steps, an estimate of the run's duration from its first steps (with a warning
and a smaller command when it would take hours) — and nothing else unless ``verbose=true``.

Everything silenced here still reaches the run directory: the full config is in
``.hydra/config.yaml``, the library's INFO log in ``train.log``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings

from lightning.pytorch.callbacks import Callback, RichProgressBar

__all__ = [
    "ProgressBar",
    "RunEstimate",
    "describe_device",
    "describe_run",
    "format_duration",
    "quiet_console",
    "start_console",
]

log = logging.getLogger(__name__)

# Loggers whose INFO lines are noise on the console: Lightning's device report, "Tip"
# advertisements and option echoes; gensim's per-file lifecycle events.
NOISY_LOGGERS = ("lightning.pytorch", "lightning.fabric", "gensim")
# Deprecations inside third-party code that a user can do nothing about.
IGNORED_WARNINGS = (r".*isinstance\(treespec, LeafSpec\).*",)


def quiet_console(verbose: bool = False) -> None:
    """Console at WARNING for third-party loggers and for the console handler of the root
    logger (Hydra's file handler keeps INFO for ``train.log``); all of it with ``verbose``."""
    if verbose:
        return
    # Hugging Face's weight-loading bars and load reports (read when transformers is imported).
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream in (
            sys.stdout,
            sys.stderr,
        ):
            handler.setLevel(logging.WARNING)
    for pattern in IGNORED_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)


def start_console(cfg) -> None:
    """Quiet the console (unless ``cfg.verbose``), log the config (``train.log``; the console
    too with ``verbose``) and print the line that says what runs, from the first process."""
    from lightning.pytorch.utilities import rank_zero_only
    from omegaconf import OmegaConf

    quiet_console(bool(cfg.get("verbose", False)))
    log.info("config:\n%s", OmegaConf.to_yaml(cfg, resolve=False))
    if rank_zero_only.rank == 0:
        print(describe_run(cfg, cfg.paths.output_dir), flush=True)


def describe_device(accelerator: str = "auto") -> str:
    """``cuda (NVIDIA H100 …)`` when a GPU will be used, else ``cpu (N cores)``."""
    import torch

    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"cpu ({cores} cores)"


def describe_run(cfg, output_dir) -> str:
    """The one line printed when a run starts: what runs, where, on what."""
    from personafuse.network import fused_personas

    persona = cfg.persona.name + (" as context" if cfg.persona.as_context else "")
    fused = fused_personas(cfg.persona.name, bool(cfg.persona.as_context))
    model = cfg.model.name + (f"-{cfg.fusion.name}" if fused else "")
    dataset = cfg.dataset._target_.rsplit(".", 1)[-1].replace("PersonaChat", "")
    dataset = (dataset or "personachat").lower() + f" ({cfg.dataset.version})"
    device = describe_device(str(cfg.trainer.get("accelerator", "auto")))
    return (
        f"personafuse: {model} · persona={persona} · {dataset} · seed {cfg.seed} · {device} "
        f"→ {output_dir}"
    )


def format_duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.4 h``, ``2.1 days``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


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
