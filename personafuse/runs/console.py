"""What a run shows on the console: one line saying what runs, the metrics table at the end
— and nothing else unless ``verbose=true`` (the progress bar and the run's estimate are the
callbacks of :mod:`personafuse.runs.callbacks`).

Everything silenced here still reaches the run directory: the full config is in
``.hydra/config.yaml``, the library's INFO log in ``train.log``.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

__all__ = [
    "describe_device",
    "describe_run",
    "format_duration",
    "print_metrics",
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
    if getattr(rank_zero_only, "rank", 0) == 0:
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
    from personafuse.data.persona import fused_personas

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


# The columns of the printed metrics table, those a run logged: ranking, then generation.
METRICS = {
    "hits@1": "hits@1", "hits@2": "hits@2", "hits@5": "hits@5", "mrr": "MRR",
    "bleu": "BLEU", "dist1": "Dist-1", "dist2": "Dist-2", "length": "length",
    "perplexity": "perplexity",
}  # fmt: skip


def print_metrics(metrics: dict, stages) -> None:
    """One rich table: a row per ``(stage, split)``, a column per metric logged (hits@1/2/5
    and MRR of a ranker; BLEU, Dist-1/2, length and perplexity of a generator)."""
    from rich.table import Table

    from personafuse.terminal import table_console

    fusion = metrics["fusion"] or "-"
    persona = metrics["persona"] + (" (as context)" if metrics["persona_as_context"] else "")
    title = f"{metrics['model']} · fusion={fusion} · persona={persona} · {metrics['dataset']}"
    table = Table()
    first = stages[0][0]
    columns = [m for m in METRICS if f"{first}/{m}" in metrics]
    for column in ("split", *(METRICS[m] for m in columns)):
        table.add_column(column, justify="right")
    for stage, split in stages:
        table.add_row(split, *(f"{metrics.get(f'{stage}/{m}', float('nan')):.4f}" for m in columns))
    console = table_console()
    console.print(title, highlight=False)
    console.print(table)
