"""Where the Hydra configs live, and composing them outside of ``@hydra.main``."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

__all__ = ["CONFIG_DIR", "ConfigError", "compose_config"]


def _config_dir() -> Path:
    # An installed wheel carries the configs as personafuse/conf; a checkout (or an editable
    # install) has them at the top level, next to the package.
    packaged = Path(__file__).resolve().parent / "conf"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / "conf"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"personafuse configs not found in {packaged} or {checkout}")


CONFIG_DIR = _config_dir()


def compose_config(config_name: str = "train", overrides: list[str] | None = None) -> DictConfig:
    """Compose a config as the command line would, e.g. ``["persona=partner"]``.

    ``hydra.*`` interpolations (the run directory) are only resolvable inside ``@hydra.main``.
    """
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name=config_name, overrides=overrides or [], return_hydra_config=True)


class ConfigError(ValueError):
    """A composed config that cannot run: the message names the key, the value and what is
    allowed, in one line."""
