"""Checks of config overrides that run before Hydra composes, each failing in one line instead
of Hydra's multi-line report: an unknown choice of a config group (``fusion=xyz``, also inside
a sweep ``fusion=na,xyz``) with the valid choices, and an unknown key (``trainer.max_step=5``)
with the closest existing key. The composed config is then checked by
:func:`personafuse.runs.checks.check_config`."""

from __future__ import annotations

import sys

from personafuse.config import CONFIG_DIR, ConfigError
from personafuse.registry import did_you_mean

__all__ = [
    "check_command_line",
    "check_overrides",
    "command_line_overrides",
    "config_keys",
    "unknown_choice",
    "unknown_key",
]


def _all_groups(loader) -> set[str]:
    """Every config group, nested ones too (``hydra/launcher``, ``hydra/sweeper/sampler``)."""
    found: set[str] = set()
    pending = [""]
    while pending:
        parent = pending.pop()
        for name in loader.list_groups(parent):
            group = f"{parent}/{name}" if parent else name
            found.add(group)
            pending.append(group)
    return found


def unknown_choice(overrides: list[str], config_name: str = "train") -> str | None:
    """The one-line message for the first override that picks a missing group option (the
    config search path includes any ``hydra.searchpath`` override), else None."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException:
        return None  # Hydra reports syntax errors itself
    searchpath = [str(o.input_line) for o in parsed if o.key_or_group == "hydra.searchpath"]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        groups = _all_groups(loader)
        for override in parsed:
            group = override.key_or_group
            if group not in groups or override.package or override.is_delete():
                continue
            values = (
                list(override.sweep_string_iterator())
                if override.is_sweep_override()
                else [override.value()]
            )
            options = loader.get_group_options(group, config_name=config_name, overrides=searchpath)
            for value in values:
                if value is not None and str(value) != "null" and str(value) not in options:
                    return (
                        f"{group}={value}: no such choice; valid choices: {', '.join(options)}"
                        f"{did_you_mean(str(value), options)}"
                    )
    return None


def config_keys(node, prefix: str = "") -> list[str]:
    """Every dotted key of a plain (``to_container``) config, nodes and leaves."""
    keys = []
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}{key}"
            keys += [path, *config_keys(value, f"{path}.")]
    return keys


def _groups_holding(key: str) -> list[str]:
    """``group=option`` choices whose file defines ``key`` (``dataset.data_dir`` ->
    ``dataset=personachat``)."""
    import yaml

    group, _, rest = key.partition(".")
    found = []
    for path in sorted((CONFIG_DIR / group).glob("*.yaml")) if rest else []:
        node = yaml.safe_load(path.read_text()) or {}
        for part in rest.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            found.append(f"{group}={path.stem}")
    return found


def unknown_key(overrides: list[str], config_name: str = "train") -> str | None:
    """The one-line message for the first ``key=value`` override whose key is not in the
    config composed from the command line's group choices (the first of each sweep), with
    the closest key; None when every key exists (``+key=`` adds one and is not checked)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf import OmegaConf

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            from hydra.core.global_hydra import GlobalHydra

            groups = _all_groups(GlobalHydra.instance().config_loader())
            choices = [
                f"{o.get_key_element()}={next(iter(o.sweep_string_iterator()))}"
                if o.is_sweep_override()
                else str(o.input_line)
                for o in parsed
                if o.key_or_group in groups or o.key_or_group == "hydra.searchpath"
            ]
            cfg = compose(config_name=config_name, overrides=choices, return_hydra_config=True)
    except HydraException:
        return None  # Hydra reports syntax errors and bad choices itself
    keys = config_keys(OmegaConf.to_container(cfg, resolve=False))
    known = set(keys)
    for override in parsed:
        key = override.key_or_group
        if override.is_add() or override.is_force_add() or key in groups or key in known:
            continue
        if override.is_delete() and key not in known:
            continue  # Hydra says itself that there is nothing to delete
        hint = did_you_mean(key, keys)
        if not hint:  # the same last name elsewhere: dataset.data_dir -> paths.data_dir
            leaf = key.rsplit(".", 1)[-1]
            same = [k for k in keys if k.rsplit(".", 1)[-1] == leaf]
            hint = f" (did you mean {same[0]!r}?)" if same else ""
        holders = _groups_holding(key)
        where = f"; it is a key of {', '.join(holders)}" if holders else ""
        return (
            f"{override.input_line}: no such config key{hint}{where}; a new key is added "
            f"with +{override.input_line} (every key: docs/configuration.md)"
        )
    return None


# Hydra's flags that take the next argument as their value.
VALUE_FLAGS = (
    "-cp",
    "--config-path",
    "-cn",
    "--config-name",
    "-cd",
    "--config-dir",
    "-c",
    "--cfg",
    "-p",
    "--package",
    "--experimental-rerun",
)


def command_line_overrides(argv: list[str]) -> list[str] | None:
    """The ``key=value`` overrides of a command line; None for a shell-completion query
    (``-sc query=bash``), whose words are not overrides."""
    if any(a in ("-sc", "--shell-completion") for a in argv):
        return None
    overrides, skip = [], False
    for argument in argv:
        if skip:
            skip = False
        elif argument in VALUE_FLAGS:
            skip = True
        elif not argument.startswith("-") and "=" in argument:
            overrides.append(argument)
    return overrides


def check_overrides(overrides: list[str], config_name: str = "train") -> None:
    """Raise :class:`ConfigError` (one line) for an unknown group choice or key."""
    message = unknown_choice(overrides, config_name) or unknown_key(overrides, config_name)
    if message:
        raise ConfigError(message)


def check_command_line(argv: list[str], config_name: str = "train") -> None:
    """Exit with status 2 and one line on standard error for an unknown group choice or an
    unknown key of a Hydra command line (before ``@hydra.main`` composes it)."""
    overrides = command_line_overrides(argv)
    if overrides is None:
        return
    try:
        check_overrides(overrides, config_name)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
