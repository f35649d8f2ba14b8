"""Optuna's Hydra sweeper (hydra-optuna-sweeper), made resumable and per backbone.

The plugin creates its study with ``load_if_exists`` but then runs ``n_trials`` more trials
and numbers its jobs from 0 again, over the directories of the earlier ones. Here, before it
runs: trials a killed search left running are marked failed and asked again with the same
parameters, the job numbers continue after the study's trials, only the trials that
``n_trials`` still lacks are run, and the sampler's random state is drawn anew (with the
same seed it would propose the first trials' values again; so a resumed search's later trials
differ from an uninterrupted one's). ``params: null`` takes ``spaces[model.name]``, the search
space of the backbone at hand. At the end, the best trial is printed as one command line.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.plugins.sweeper import Sweeper
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

# Overrides of the command line that the best trial's command leaves out.
NOT_REPEATED = ("hparams_search", "hydra.", "+hydra.")


class ResumableOptunaSweeper(Sweeper):
    """Settings as hydra-optuna-sweeper's ``OptunaSweeper``, plus ``spaces``: search spaces by
    ``model.name``, used when ``params`` is null."""

    def __init__(self, spaces: DictConfig | None = None, **settings: Any) -> None:
        try:
            from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl
        except ImportError:
            raise ImportError(
                "hparams_search=optuna needs Optuna's sweeper: pip install 'personafuse[sweeps]'"
            ) from None
        self.spaces = spaces
        self.sweeper = _resumable(OptunaSweeperImpl)(**settings)

    def setup(self, *, hydra_context, task_function, config: DictConfig) -> None:
        if self.sweeper.params is None and self.sweeper.search_space is None:
            name = config.model.name
            spaces: Any = self.spaces or {}
            if name not in spaces:
                raise ValueError(
                    f"hparams_search: no search space for model={name}; give one with "
                    f"hydra.sweeper.params.KEY=... (spaces: {', '.join(spaces) or 'none'})"
                )
            self.sweeper.params = spaces[name]
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function,
                           config=config)  # fmt: skip

    def sweep(self, arguments: list[str]) -> None:
        return self.sweeper.sweep(arguments)


def _resumable(base: type) -> type:
    import optuna
    from optuna.trial import TrialState

    class ResumableOptunaSweeperImpl(base):
        n_trials: int

        def sweep(self, arguments: list[str]) -> None:
            Path(self.config.hydra.sweep.dir).mkdir(parents=True, exist_ok=True)  # the study's
            target = self.n_trials
            study = _existing_study(self.study_name, self.storage)
            if study is not None:
                for trial in study.trials:
                    if trial.state == TrialState.RUNNING:  # its search was killed
                        study.tell(trial.number, state=TrialState.FAIL)
                        study.enqueue_trial(trial.params)
                complete = sum(t.state == TrialState.COMPLETE for t in study.trials)
                self.n_trials = max(0, target - complete)
                # A fresh sampler with the same seed would draw the first trials' values again.
                self.sampler.reseed_rng()
                self.job_idx = len(study.trials)
                print(f"search: {complete} of {target} trials complete in {self.storage}; "
                      f"{self.n_trials} to run", flush=True)  # fmt: skip
            if self.n_trials:
                super().sweep(arguments)
            study = optuna.load_study(study_name=self.study_name, storage=self.storage)
            _print_best(study, arguments)

    return ResumableOptunaSweeperImpl


def _existing_study(name: str | None, storage: str | None):
    import optuna

    if storage is None or name is None:
        return None
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:  # no such study yet
        return None


def _print_best(study, arguments: list[str]) -> None:
    from optuna.trial import TrialState

    if not any(t.state == TrialState.COMPLETE for t in study.trials):
        print("search: no trial completed", flush=True)
        return
    best = study.best_trial
    fixed = [a for a in arguments if not a.startswith(NOT_REPEATED) and "=" in a]
    searched = [f"{key}={value}" for key, value in best.params.items()]
    keys = {a.split("=", 1)[0] for a in searched}
    fixed = [a for a in fixed if a.split("=", 1)[0] not in keys]
    command = " ".join(["python -m personafuse.train", *fixed, *searched])
    print(f"best trial: #{best.number}, {best.value:.6g}\n{command}", flush=True)
    log.info("best trial: %s", OmegaConf.to_yaml(OmegaConf.create(best.params)))
