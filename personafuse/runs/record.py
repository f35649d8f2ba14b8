"""What a run records: its metadata (the cell of the paper's tables it fills), the timed
evaluation of a checkpoint with the files of its outputs, and the device it ran on."""

from __future__ import annotations

import platform
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from personafuse.data.persona import fused_personas

__all__ = ["cpu_name", "evaluate_splits", "plain_config", "run_metadata"]


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
