"""Persona selection and resolution of split files."""

from __future__ import annotations

import shutil

import pytest

from personafuse.data import (
    DatasetNotFoundError,
    PersonaChatFiles,
    PersonaSelectionError,
    read_personachat,
    select_persona,
)

from .conftest import RAW

BOTH = read_personachat(RAW / "train_both_original.txt")


@pytest.mark.parametrize(
    ("choice", "has_self", "has_partner"),
    [("none", False, False), ("self", True, False), ("partner", False, True), ("both", True, True)],
)
def test_select_persona(choice, has_self, has_partner):
    selected = select_persona(BOTH, choice)
    assert len(selected) == len(BOTH)
    for before, after in zip(BOTH, selected, strict=True):
        assert after.self_persona == (before.self_persona if has_self else ())
        assert after.partner_persona == (before.partner_persona if has_partner else ())
        assert (after.context, after.candidates, after.label) == (
            before.context,
            before.candidates,
            before.label,
        )


def test_missing_persona_is_an_error_naming_the_line():
    self_only = read_personachat(RAW / "train_self_original.txt")
    with pytest.raises(PersonaSelectionError, match=r"train_self_original.txt:\d+.*partner"):
        select_persona(self_only, "partner")
    with pytest.raises(PersonaSelectionError, match="valid choices: none, self, partner, both"):
        select_persona(self_only, "other")


@pytest.fixture
def data_dir(tmp_path):
    for name in ("train_self_original.txt", "train_other_revised.txt", "valid_both_revised.txt"):
        shutil.copy(RAW / name, tmp_path / name)
    (tmp_path / "personachat").mkdir()
    shutil.copy(RAW / "test_none_original.txt", tmp_path / "personachat" / "test_none_original.txt")
    return tmp_path


def test_resolution_prefers_both_then_falls_back(data_dir):
    original = PersonaChatFiles(data_dir, "original")
    revised = PersonaChatFiles(data_dir, "revised")
    assert original.split_path("train", "self").name == "train_self_original.txt"
    assert revised.split_path("train", "partner").name == "train_other_revised.txt"
    assert revised.split_path("valid", "none").name == "valid_both_revised.txt"
    # none exists only as none_original, also for revised runs; personachat/ is searched too
    assert revised.split_path("test", "none") == data_dir / "personachat" / "test_none_original.txt"


def test_missing_file_says_how_to_get_it(data_dir):
    with pytest.raises(DatasetNotFoundError) as info:
        PersonaChatFiles(data_dir, "original").split_path("train", "partner")
    message = str(info.value)
    assert "train_both_original.txt, train_other_original.txt" in message
    assert "personafuse.data.download" in message and "dataset=synthetic" in message


def test_invalid_version_and_split(data_dir):
    with pytest.raises(ValueError, match="valid choices: original, revised"):
        PersonaChatFiles(data_dir, "v2")
    with pytest.raises(ValueError, match="valid choices: train, valid, test"):
        PersonaChatFiles(data_dir).split_path("dev", "self")
