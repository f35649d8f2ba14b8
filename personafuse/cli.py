"""Command-line checks that run before Hydra composes: an unknown choice of a config group
(``fusion=xyz``, also inside a sweep ``fusion=na,xyz``) fails in one line with the valid
choices, instead of Hydra's multi-line report."""

from __future__ import annotations

import sys

from personafuse.config import CONFIG_DIR
from personafuse.registry import did_you_mean

__all__ = ["check_command_line", "unknown_choice"]


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
    searchpath = [o.input_line for o in parsed if o.key_or_group == "hydra.searchpath"]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        groups = set(loader.list_groups(""))
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
                        f"{did_you_mean(value, options)}"
                    )
    return None


def check_command_line(argv: list[str], config_name: str = "train") -> None:
    """Exit with status 2 and one line on standard error for an unknown group choice."""
    overrides = [a for a in argv if not a.startswith("-") and "=" in a]
    message = unknown_choice(overrides, config_name)
    if message:
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
