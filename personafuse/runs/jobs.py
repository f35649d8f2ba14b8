"""A run directory as one job of a sweep: complete, killed (it resumes from ``last.ckpt``) or
new; a failed job's one-line record; and the summary of a sweep's failures.

Re-running a multirun command into the same sweep directory (``hydra.sweep.dir=...``) takes
every job where it stopped (``resume=auto``, the default): a job whose ``metrics.json`` is
complete and whose checkpoint verifies is skipped, a killed one resumes from its
``last.ckpt``, one that never ran (or failed) starts. A job that raises is recorded in its
directory (``failed.json``, with its one-line reason) and the sweep goes on; at the end the
sweep lists its failed jobs and the command exits with status 1.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from pathlib import Path

from personafuse.config import ConfigError

__all__ = [
    "FAILED_FILE",
    "SweepSummary",
    "completed_metrics",
    "continue_job",
    "failed_jobs",
    "in_multirun",
    "record_failure",
    "resume_mode",
]

FAILED_FILE = "failed.json"
RESUME_CHOICES = ("auto", True, False)
log = logging.getLogger(__name__)
# The failed jobs of the last sweep this process ran (SweepSummary fills it; train exits 1).
LAST_SWEEP_FAILURES: list[tuple[str, str]] = []


def in_multirun() -> bool:
    """Whether this process runs a job of a sweep (``--multirun``)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def resume_mode(cfg) -> bool:
    """Whether a run continues what its directory holds: ``resume=auto`` in a sweep,
    ``resume=true`` always, ``resume=false`` never (a directory holding a run is refused)."""
    resume = cfg.get("resume", "auto")
    if resume not in RESUME_CHOICES:
        raise ConfigError(f"resume={resume}; valid choices: auto, true, false")
    return in_multirun() if resume == "auto" else bool(resume)


def completed_metrics(output_dir: Path) -> dict | None:
    """The metrics of a finished run in ``output_dir`` (test metrics written, its checkpoint
    verified), else None."""
    from personafuse.checkpoints import CheckpointError, load_verified

    path = output_dir / "metrics.json"
    try:
        metrics = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not any(key.startswith("test/") for key in metrics) or "checkpoint" not in metrics:
        return None
    try:
        if metrics["checkpoint"]:
            load_verified(metrics["checkpoint"])
    except CheckpointError:
        return None
    return metrics


def continue_job(output_dir: Path) -> tuple[dict | None, str | None]:
    """Where a resumed run stands: ``(metrics, None)`` when it is complete, ``(None, "last")``
    when it resumes from its ``last.ckpt``, ``(None, None)`` when it starts (what an
    unfinished run without ``last.ckpt`` left is cleared first)."""
    from personafuse.checkpoints import CheckpointError, load_verified

    metrics = completed_metrics(output_dir)
    if metrics is not None:
        return metrics, None
    (output_dir / FAILED_FILE).unlink(missing_ok=True)
    last = output_dir / "checkpoints" / "last.ckpt"
    if last.is_file():
        try:
            load_verified(last)
            (output_dir / "metrics.json").unlink(missing_ok=True)
            return None, "last"
        except CheckpointError as err:
            log.warning("%s; starting the run again", err)
    shutil.rmtree(output_dir / "checkpoints", ignore_errors=True)
    (output_dir / "metrics.json").unlink(missing_ok=True)
    return None, None


def record_failure(output_dir: Path, error: BaseException, reason: str) -> None:
    """Write ``failed.json`` (the one-line reason, the error's type, the job's overrides)."""
    from hydra.core.hydra_config import HydraConfig

    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    record = {"reason": reason, "error": type(error).__name__, "overrides": overrides,
              "time": time.time()}  # fmt: skip
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / FAILED_FILE).write_text(json.dumps(record, indent=2))


def failed_jobs(sweep_dir: Path, since: float = 0.0) -> list[tuple[str, str]]:
    """``(job directory, reason)`` of each job of ``sweep_dir`` that failed after ``since``."""
    found = []
    for path in sorted(Path(sweep_dir).glob(f"*/{FAILED_FILE}")):
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if record.get("time", 0.0) >= since:
            found.append((path.parent.name, record.get("reason", "?")))
    return found


try:
    from hydra.experimental.callback import Callback as _HydraCallback
except ImportError:  # pragma: no cover - every supported Hydra has it
    _HydraCallback = object  # type: ignore[assignment,misc]


class SweepSummary(_HydraCallback):
    """A Hydra callback (``hydra.callbacks``): at the end of a sweep, lists the jobs that
    failed, with their reasons, on standard error (``train`` then exits with status 1)."""

    def on_multirun_start(self, config, **kwargs) -> None:
        self.started = time.time()
        LAST_SWEEP_FAILURES.clear()

    def on_multirun_end(self, config, **kwargs) -> None:
        failures = failed_jobs(Path(config.hydra.sweep.dir), getattr(self, "started", 0.0))
        LAST_SWEEP_FAILURES[:] = failures
        if failures:
            print(f"{len(failures)} job(s) of the sweep failed (their directories hold "
                  f"{FAILED_FILE}; re-run the same command to run them again):",
                  file=sys.stderr)  # fmt: skip
            for job, reason in failures:
                print(f"  {job}: {reason}", file=sys.stderr)
