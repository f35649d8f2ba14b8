"""Main job: ``python -m personafuse.train [group=choice ...] [key=value ...]``.

Hydra builds the data module from the ``dataset`` and ``persona`` groups. Until the ranking
models land, the job prepares the data (generating the synthetic corpus on first use) and
prints and saves statistics of every split.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from personafuse.config import CONFIG_DIR
from personafuse.data import DatasetNotFoundError, PersonaChatFormatError, PersonaSelectionError
from personafuse.data.stats import compute_stats

__all__ = ["main", "run"]

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict:
    """Prepare the data of ``cfg`` and return statistics of each split."""
    datamodule = instantiate(cfg.datamodule)
    datamodule.prepare_data()
    datamodule.setup()
    summary = {}
    for split, examples in datamodule.examples.items():
        stats = compute_stats(examples, datamodule.dataset.split_path(split, datamodule.persona))
        summary[split] = stats.to_dict()
    return summary


def _print_summary(summary: dict, cfg: DictConfig) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{cfg.dataset._target_.rsplit('.', 1)[-1]} · persona={cfg.persona.name}"
        f" · version={cfg.dataset.version}"
    )
    for column in ("split", "dialogues", "turns", "candidates/turn", "context utt. (mean)"):
        table.add_column(column, justify="right")
    for split, info in summary.items():
        candidates = " ".join(f"{k}:{v}" for k, v in info["candidates_per_turn"].items())
        table.add_row(
            split,
            str(info["dialogues"]),
            str(info["turns"]),
            candidates,
            f"{info['mean_context_utterances']:.1f}",
        )
    Console().print(table)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="train")
def main(cfg: DictConfig) -> None:
    output_dir = Path(cfg.paths.output_dir)
    log.info("config:\n%s", OmegaConf.to_yaml(cfg))
    try:
        summary = run(cfg)
    except (DatasetNotFoundError, PersonaChatFormatError, PersonaSelectionError) as err:
        # Bad input is the user's to fix: say what and where, without a traceback.
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
    _print_summary(summary, cfg)
    (output_dir / "stats.json").write_text(json.dumps(summary, indent=2))
    log.info("statistics written to %s", output_dir / "stats.json")


if __name__ == "__main__":
    main()
