"""docs/configuration.md lists every config group, every choice and every key with the default
that the composed config really has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from personafuse.config import CONFIG_DIR, compose_config

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
ROW = re.compile(r"^\| `([\w.]+)` \| `([^`]*)` \|", re.M)
# Choices whose table rows hold their own defaults (the other choices only add or set keys
# that the doc must name).
TABLED = [[], ["model=imn"], ["model=bert"], ["model=unilm"], ["dataset=personachat"]]
# Keys whose value is the name of the chosen option.
CHOICE_NAMES = {"model.name", "persona.name", "fusion.name"}


def _groups() -> dict[str, list[str]]:
    return {
        group.name: sorted(p.stem for p in group.glob("*.yaml"))
        for group in sorted(CONFIG_DIR.iterdir())
        if group.is_dir() and group.name != "hydra"
    }


def _render(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_render(v)}" for k, v in value.items()) + "}"
    return str(value)


def _leaves(node, prefix: str = "") -> dict[str, object]:
    leaves = {}
    for key, value in node.items():
        if key in ("_target_", "_partial_"):
            continue
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            leaves |= _leaves(value, f"{path}.")
        else:
            leaves[path] = value
    return leaves


def _composed(overrides: list[str]) -> dict[str, object]:
    cfg = compose_config(overrides=overrides)
    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("hydra")
    return _leaves(plain)


def _documented() -> dict[str, set[str]]:
    rows: dict[str, set[str]] = {}
    for key, default in ROW.findall(DOC.read_text()):
        rows.setdefault(key, set()).add(default)
    return rows


def test_every_group_and_choice_is_listed():
    text = DOC.read_text()
    for group, choices in _groups().items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{group}` |")), "")
        assert row, f"group {group} missing"
        for choice in choices:
            assert f"`{choice}`" in row, f"{group}={choice} missing"


@pytest.mark.parametrize("overrides", TABLED, ids=lambda o: " ".join(o) or "default")
def test_every_key_is_documented_with_its_default(overrides):
    documented = _documented()
    for key, value in _composed(overrides).items():
        assert key in documented, f"{key} is not in docs/configuration.md"
        if key in CHOICE_NAMES:
            continue
        assert _render(value) in documented[key], (key, _render(value), documented[key])


@pytest.mark.parametrize(
    "overrides",
    [
        [f"{group}={choice}"]
        for group, choices in _groups().items()
        if group != "experiment"
        for choice in choices
    ],
    ids=lambda o: o[0],
)
def test_every_choice_only_uses_documented_keys(overrides):
    documented = _documented()
    text = DOC.read_text()
    for key in _composed(overrides):
        if key in _groups():  # an empty group (logger=none, callbacks=none)
            continue
        assert key in documented or f"`{key}=" in text, f"{overrides[0]}: {key} undocumented"
