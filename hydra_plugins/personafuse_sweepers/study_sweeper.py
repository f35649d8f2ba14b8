"""Hydra's basic sweeper, plus ``experiments``: several experiments' grids as one sweep.

``experiment=paper`` lists ``table2`` … ``table7``: each job is one cell of one table, composed
with ``experiment=tableN`` and that table's own ``hydra.sweeper.params``, and the command's
other overrides apply to every job (``dataset=synthetic``, ``seed=0``). The jobs are numbered
in a fixed order, so re-running the same command into the same sweep directory finds each
job's directory again (``resume=auto``: complete jobs are skipped, killed ones resume).
Without ``experiments`` it is the basic sweeper.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

log = logging.getLogger(__name__)


class StudySweeper(BasicSweeper):
    """Args: as the basic sweeper's (``max_batch_size``, ``params``), and ``experiments``:
    names in the ``experiment`` group whose grids make the sweep."""

    def __init__(self, max_batch_size=None, params=None, experiments=None) -> None:
        super().__init__(max_batch_size=max_batch_size, params=params)
        self.experiments = list(experiments or [])

    def study_jobs(self, arguments: list[str]) -> list[list[str]]:
        """The overrides of every job, experiment by experiment, in a fixed order."""
        assert self.config is not None and self.hydra_context is not None
        loader = self.hydra_context.config_loader
        parser = OverridesParser.create(config_loader=loader)
        common = [a for a in arguments if a.split("=", 1)[0].lstrip("+~") != "experiment"]
        jobs: list[list[str]] = []
        for name in self.experiments:
            cfg = loader.load_sweep_config(self.config, [f"experiment={name}"])
            params = cfg.hydra.sweeper.params or {}
            grid = [f"{key}={value}" for key, value in params.items()]
            overrides = parser.parse_overrides([f"experiment={name}", *grid, *common])
            jobs += self.split_arguments(overrides, None)[0]
        return jobs

    def sweep(self, arguments: list[str]):
        if not self.experiments:
            return super().sweep(arguments)
        assert self.config is not None and self.launcher is not None
        jobs = self.study_jobs(arguments)
        log.info("%d jobs from %s", len(jobs), ", ".join(self.experiments))
        self.overrides = list(self.split_overrides_to_chunks(jobs, self.max_batch_size))
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        returns, initial_job_idx = [], 0
        while not self.is_done():
            batch = self.get_job_batch()
            started = time.perf_counter()
            self.validate_batch_is_legal(batch)
            log.debug("validated %d jobs in %.2f s", len(batch), time.perf_counter() - started)
            results = self.launcher.launch(batch, initial_job_idx=initial_job_idx)
            for result in results:
                _ = result.return_value  # a job that raised (not one the task recorded) stops here
            initial_job_idx += len(batch)
            returns.append(results)
        return returns
