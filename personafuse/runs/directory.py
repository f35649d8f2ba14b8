"""The run directory: where a training run and the commands that read it put their files.

A training run writes ``RUN/`` (Hydra's run directory): ``.hydra/`` (its config and
overrides), ``checkpoints/{best,last}.ckpt``, ``metrics.json``, the per-context outputs and the
featurizer's files. ``evaluate`` and ``generate`` write ``RUN/evaluate/SPLIT/`` and
``RUN/generate/SPLIT/`` by default. Everything that derives one path from another lives here.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from personafuse.config import ConfigError

__all__ = [
    "output_directory",
    "resume_checkpoint",
    "run_directory",
    "training_overrides",
    "written_files",
]


def run_directory(ckpt_path: str | Path) -> Path:
    """``RUN`` of a checkpoint ``RUN/checkpoints/NAME.ckpt``."""
    return Path(ckpt_path).resolve().parent.parent


def output_directory(ckpt_path: str | Path, command: str, split: str) -> Path:
    """Where ``command`` (``evaluate``, ``generate``) writes for ``split`` by default:
    ``RUN/COMMAND/SPLIT``."""
    return run_directory(ckpt_path) / command / split


def training_overrides(run_dir: str | Path) -> list[str]:
    """The overrides the training run was composed with, from Hydra's record of them, and its
    config search path (where plugin configs live)."""
    run_dir = Path(run_dir)
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    overrides = yaml.safe_load(path.read_text()) or []
    # Paths of the training run do not apply to the outputs of the commands that read it.
    kept = [o for o in overrides if not o.lstrip("+~").startswith(("paths.output_dir", "hydra."))]
    hydra_yaml = run_dir / ".hydra" / "hydra.yaml"
    if hydra_yaml.is_file():
        recorded = yaml.safe_load(hydra_yaml.read_text())["hydra"]["overrides"]["hydra"] or []
        kept += [o for o in recorded if o.startswith("hydra.searchpath=")]
    return kept


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


def written_files(directory) -> list[str]:
    """What a run or an evaluation left in ``directory``: its metrics, per-context outputs and
    checkpoint directory."""
    directory = Path(directory)
    names = sorted(p.name for p in directory.glob("*.json")) + sorted(
        p.name for p in directory.glob("*.tsv")
    )
    return names + (["checkpoints/"] if (directory / "checkpoints").is_dir() else [])
