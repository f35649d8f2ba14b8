"""What every run records and prints, shared by ``train`` and ``evaluate``: the run's
metadata, the timed evaluation of a checkpoint, the device, the metrics table."""

from __future__ import annotations

import platform
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from personafuse.checkpoints import CheckpointError
from personafuse.config import ConfigError
from personafuse.data import DatasetNotFoundError, PersonaChatFormatError, PersonaSelectionError
from personafuse.network import fused_personas
from personafuse.registry import PluginError

__all__ = [
    "USER_ERRORS",
    "cpu_name",
    "evaluate_splits",
    "plain_config",
    "print_metrics",
    "resume_checkpoint",
    "run_metadata",
    "written_files",
]

# The columns of the printed metrics table, those a run logged: ranking, then generation.
METRICS = {
    "hits@1": "hits@1", "hits@2": "hits@2", "hits@5": "hits@5", "mrr": "MRR",
    "bleu": "BLEU", "dist1": "Dist-1", "dist2": "Dist-2", "length": "length",
    "perplexity": "perplexity",
}  # fmt: skip
# Bad input is the user's to fix: the entry points print these in one line, no traceback.
USER_ERRORS = (
    CheckpointError,
    ConfigError,
    DatasetNotFoundError,
    PersonaChatFormatError,
    PersonaSelectionError,
    PluginError,
)


def run_metadata(cfg) -> dict:
    """The choices that identify a run's cell in the paper's tables (``report`` reads them)."""
    as_context = bool(cfg.persona.as_context)
    return {
        "model": cfg.model.name,
        "fusion": cfg.fusion.name if fused_personas(cfg.persona.name, as_context) else None,
        "subtype": bool(cfg.model.subtype) if "subtype" in cfg.model else None,
        "persona": cfg.persona.name,
        "persona_as_context": as_context,
        "version": cfg.dataset.version,
        "dataset": cfg.dataset._target_.rsplit(".", 1)[-1],
        "seed": cfg.seed,
        "candidate_seed": cfg.datamodule.candidate_seed,
    }


def resume_checkpoint(ckpt_path: str | None, output_dir: Path) -> str | None:
    """The checkpoint to resume from, verified: ``last`` is ``RUN/checkpoints/last.ckpt``.

    Without ``ckpt_path``, a directory that already holds a run (finished or killed) is
    refused rather than silently restarted.

    Raises:
        ConfigError: Nothing to resume, or a run already in ``output_dir``.
        CheckpointError: The checkpoint is not usable.
    """
    from personafuse.checkpoints import load_verified

    checkpoints = output_dir / "checkpoints"
    if ckpt_path is None:
        previous = sorted(checkpoints.glob("*.ckpt")) if checkpoints.is_dir() else []
        if previous or (output_dir / "metrics.json").exists():
            held = previous[-1].name if previous else "metrics.json"
            raise ConfigError(
                f"{output_dir} already holds a run ({held}); resume it with the same overrides "
                f"and ckpt_path=last, or choose a new directory (hydra.run.dir=...)"
            )
        return None
    path = checkpoints / "last.ckpt" if ckpt_path == "last" else Path(ckpt_path)
    if not path.is_file():
        raise ConfigError(f"ckpt_path={ckpt_path}: {path} does not exist; nothing to resume")
    load_verified(path)
    return str(path)


def plain_config(cfg) -> dict:
    """The resolved config without Hydra's own node, as plain values (for loggers)."""
    return {
        key: OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
        for key, value in cfg.items()
        if key != "hydra"
    }


def evaluate_splits(trainer, module, datamodule, ckpt_path, output_dir: Path, stages) -> dict:
    """Run ``stages`` (``(stage, split)`` pairs: ``("val", "valid")`` validates, any other
    stage tests) on ``ckpt_path``; write the module's outputs (``predictions_{split}.tsv``,
    ``generations_{split}.tsv``; once, from the first process); time each pass (Table 6:
    ``{stage}/contexts_per_s`` and the module's unit per second, e.g. ``pairs_per_s``, of
    all processes together, with the device named)."""
    metrics: dict = {}
    for stage, split in stages:
        loader = datamodule.eval_dataloader(split)
        run = trainer.validate if stage == "val" else trainer.test
        start, cpu_start = time.perf_counter(), time.process_time()
        raw = run(module, dataloaders=loader, ckpt_path=ckpt_path, verbose=False)[0]
        kind = "val" if stage == "val" else "test"
        outputs = module.pass_outputs(kind)
        seconds = time.perf_counter() - start
        # The share of the CPU threads' time this process got: well below 1 on a CPU run
        # means other jobs took the cores, and its speed is not comparable (Table 6).
        cpu_share = (time.process_time() - cpu_start) / (seconds * torch.get_num_threads())
        metrics |= {k.replace(f"{kind}/", f"{stage}/"): round(float(v), 6) for k, v in raw.items()}
        # Under limit_*_batches the pass covers the split's first contexts (the loaders keep
        # the file's order); their outputs are written and their number recorded.
        examples = datamodule.examples[split][: len(outputs)]
        if trainer.is_global_zero:
            module.write_outputs(output_dir, split, examples, outputs)
        unit, amount = module.throughput(outputs)
        metrics[f"{stage}/contexts"] = len(outputs)
        metrics[f"{stage}/contexts_per_s"] = round(len(outputs) / seconds, 2)
        metrics[f"{stage}/{unit}_per_s"] = round(amount / seconds, 2)
        metrics[f"{stage}/cpu_share"] = round(cpu_share, 3)
    device = trainer.strategy.root_device
    metrics["device"] = device.type
    metrics["device_name"] = (
        torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    )
    return metrics


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


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


def written_files(directory) -> list[str]:
    """What a run or an evaluation left in ``directory``: its metrics, per-context outputs and
    checkpoint directory."""
    directory = Path(directory)
    names = sorted(p.name for p in directory.glob("*.json")) + sorted(
        p.name for p in directory.glob("*.tsv")
    )
    return names + (["checkpoints/"] if (directory / "checkpoints").is_dir() else [])
