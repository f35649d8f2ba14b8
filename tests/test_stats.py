"""`python -m personafuse.data.stats`."""

from __future__ import annotations

import dataclasses
import json

from personafuse.data import read_personachat
from personafuse.data.stats import compute_stats, expected_counts, main

from .conftest import FIXTURES, RAW


def test_counts_and_flags(capsys):
    assert main([str(RAW / "test_both_original.txt"), "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert (result["dialogues"], result["turns"]) == (1, 5)
    assert result["self_persona_sizes"] == {"5": 1} and result["partner_persona_sizes"] == {"5": 1}
    assert result["candidates_per_turn"] == {"20": 5}
    assert "differ from the full test split (968 / 7512)" in result["flags"][0]


def test_full_split_counts_pass_without_flag():
    examples = read_personachat(RAW / "train_self_original.txt")
    # pretend the file holds the full split: replicate dialogue ids and turns to the known counts
    fake = [dataclasses.replace(examples[0], dialogue_id=i % 8939) for i in range(65719)]
    assert compute_stats(fake, "train_self_original.txt").flags == []
    assert expected_counts("valid_other_revised_no_cands.txt") == ("valid", 1000, 7801)
    assert expected_counts("notes.txt") is None


def test_table_output_and_strict(capsys):
    head = FIXTURES / "convai2" / "valid_self_original_no_cands.head.txt"
    assert main([str(head)]) == 0
    out = capsys.readouterr().out
    assert "valid_self_original_no_cands.head.txt" in out and "0:" in out
    assert main([str(RAW / "valid_none_original.txt"), "--strict"]) == 1


def test_malformed_file_reports_line(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("1 hello\n")
    assert main([str(bad)]) == 2
    assert f"{bad}, line 1" in capsys.readouterr().err
