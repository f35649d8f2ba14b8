"""From a composed config to a scoring network, through the registries only.

:func:`check_network_config` runs when the config is composed, before any data is read: the
``model``, ``fusion`` and ``model.matching`` names must be registered and the backbone must
serve the fusion. :func:`build_network` and :func:`restore_network` then ask the backbone of
``model.name`` to build the network; nothing here knows which backbones exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from torch import nn

from personafuse.backbones import BACKBONES, NetworkSpec
from personafuse.config import ConfigError
from personafuse.data.schema import RankingExample
from personafuse.fusion import FUSIONS
from personafuse.registry import import_plugins

__all__ = [
    "build_network",
    "check_network_config",
    "fused_personas",
    "load_run",
    "restore_network",
]


def fused_personas(persona: str, as_context: bool = False) -> tuple[str, ...]:
    """Which personas the model fuses: none for ``none`` and for persona-only runs (Table 2),
    where the persona sentences take the place of the context."""
    if as_context:
        return ()
    return {"none": (), "self": ("self",), "partner": ("partner",), "both": ("self", "partner")}[
        persona
    ]


def check_network_config(cfg) -> None:
    """Raise :class:`ConfigError` (one line: key, value, valid choices) for a model or fusion
    name nothing registered, a fusion the backbone cannot serve, or a backbone option it
    cannot take. Imports ``cfg.plugins`` first."""
    import_plugins(cfg.get("plugins") or ())
    if cfg.model.name not in BACKBONES:
        raise ConfigError(f"model={cfg.model.name}: {BACKBONES.unknown(cfg.model.name)}")
    backbone = BACKBONES.get(cfg.model.name)
    if cfg.fusion.name not in FUSIONS:
        raise ConfigError(f"fusion={cfg.fusion.name}: {FUSIONS.unknown(cfg.fusion.name)}")
    if fused_personas(cfg.persona.name, cfg.persona.as_context):
        fusion = FUSIONS.get(cfg.fusion.name)
        if not backbone.serves(fusion):
            served = [name for name, entry in FUSIONS.items() if backbone.serves(entry)]
            raise ConfigError(
                f"fusion={cfg.fusion.name} cannot serve model={cfg.model.name}; fusions that "
                f"serve it: {', '.join(served)}"
            )
    backbone.check_config(cfg.model)
    _check_task(cfg, backbone)


def _check_task(cfg, backbone) -> None:
    """The configured LightningModule must do what the backbone's network does."""
    from hydra.utils import get_class

    try:
        module_task = getattr(get_class(cfg.module._target_), "task", None)
    except Exception:  # a user's module: Hydra reports an unimportable target itself
        return
    if module_task is not None and module_task != backbone.task:
        raise ConfigError(
            f"model={cfg.model.name} is a {backbone.task} model but module={module_task}; "
            f"choose module={backbone.task}"
        )


def build_network(
    cfg,
    featurizer,
    train_examples: Sequence[RankingExample] = (),
    state_dict=None,
) -> nn.Module:
    """The network of ``cfg.model.name`` for ``cfg.fusion`` and ``cfg.persona``: batch -> (B, C)
    scores. ``state_dict`` (when restoring) gives the shapes of what is not learned."""
    spec = NetworkSpec(
        model=cfg.model,
        fusion=cfg.fusion.name,
        personas=fused_personas(cfg.persona.name, cfg.persona.as_context),
        featurizer=featurizer,
        train_examples=train_examples,
        cache_dir=cfg.paths.cache_dir,
        seed=cfg.seed,
        state_dict=state_dict,
    )
    return BACKBONES.get(cfg.model.name).build(spec)


def restore_network(cfg, run_dir: Path, checkpoint: dict):
    """The featurizer a training run saved in ``run_dir`` and an untrained network shaped
    for the weights of ``checkpoint`` (loaded and verified by
    :func:`personafuse.checkpoints.load_verified`; the caller loads the weights).

    Returns:
        ``(featurizer, network)``.
    """
    from hydra.utils import instantiate

    check_network_config(cfg)
    featurizer = instantiate(cfg.model.featurizer).load(run_dir)
    state = {key.removeprefix("network."): value for key, value in checkpoint["state_dict"].items()}
    return featurizer, build_network(cfg, featurizer, state_dict=state)


def load_run(ckpt_path, device: str = "cpu"):
    """A trained run's config, featurizer and network with the checkpoint's weights, in eval
    mode on ``device`` (``auto``: the GPU when there is one). The checkpoint is verified
    first, and one written by another personafuse version (major.minor) is refused.

    Returns:
        ``(cfg, featurizer, network, checkpoint)``.

    Raises:
        CheckpointError: The file is not a usable checkpoint of this version.
    """
    import torch

    from personafuse import __version__
    from personafuse.checkpoints import KEY, CheckpointError, load_verified
    from personafuse.config import compose_config
    from personafuse.evaluate import training_overrides

    checkpoint = load_verified(ckpt_path)
    written = checkpoint[KEY].get("version", "unknown")
    if written.split(".")[:2] != __version__.split(".")[:2]:
        raise CheckpointError(
            f"{ckpt_path}: written by personafuse {written}, this is {__version__}; load it "
            f"with personafuse {written} or retrain"
        )
    run_dir = Path(ckpt_path).resolve().parent.parent
    cfg = compose_config(overrides=training_overrides(run_dir))
    featurizer, network = restore_network(cfg, run_dir, checkpoint)
    state = {k.removeprefix("network."): v for k, v in checkpoint["state_dict"].items()}
    network.load_state_dict(state)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return cfg, featurizer, network.eval().to(device), checkpoint
