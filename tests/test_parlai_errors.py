"""Malformed Persona-Chat input raises PersonaChatFormatError naming the file and the line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personafuse.data import PersonaChatFormatError, read_personachat

from .conftest import RAW

VALID = (RAW / "valid_both_original.txt").read_bytes().splitlines()
PERSONA_LINES = sum(1 for line in VALID if b"\t" not in line)  # first lines are persona lines


def _write(tmp_path: Path, lines: list[bytes], name: str = "train_both_original.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _error(path: Path) -> PersonaChatFormatError:
    with pytest.raises(PersonaChatFormatError) as info:
        read_personachat(path)
    assert str(path) in str(info.value)
    return info.value


def _with(lines: list[bytes], index: int, line: bytes) -> list[bytes]:
    return [*lines[:index], line, *lines[index + 1 :]]


TURN = PERSONA_LINES  # 0-based position of the first turn line


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{n} hello there", "not a persona line"),
        (b"{n} hello\t\t\ta|b", "missing true response"),
        (b"{n} \thi\t\ta|hi", "empty utterance"),
        (b"{n} hello\tnot there\t\ta|b|c", "not among the 3 candidates"),
        (b"{n} hello\tx|y\t\tx|y", "several true responses"),
        (b"{n} hello\tb\t1.0\ta|b", "unexpected reward"),
        (b"{n} hello\tb\t\ta||b", "candidate 2 of 3 is empty"),
        (
            b"{n} hello\tb\t\ta|b\textra",
            "5 tab-separated fields; turns of a file with candidates have 4",
        ),
        (b"{n} hello\tb\t", "is the line cut short?"),  # cut after the response
        (b"{n} hello\tb\t\t" + b"|".join(b"c%d" % i for i in range(18)) + b"|b", "19 candidates"),
        (b"{n} hello\tb\t\t" + b"|".join(b"c%d" % i for i in range(20)) + b"|b", "21 candidates"),
        (b"{n} hel\x00lo\tb\t\ta|b", "control character U+0000 at column"),
        (b"{n} hello\tb\x1b[0m\t\ta|b", "control character U+001B"),
        (b"twelve hello\tb\t\ta|b", "line index"),
        (b"\xd9\xa1\xd9\xa1 hello\tb\t\ta|b", "line index"),  # Arabic-Indic digits
        (b"{skip} hello\tb\t\ta|b", "does not follow"),
        (b"0 hello\tb\t\ta|b", "does not follow"),
        (b"{n} your persona: late", "persona line after the first turn"),
    ],
)
def test_handwritten_corruptions(tmp_path, line, reason):
    number = TURN + 2  # persona lines, one good turn, then the bad line
    line = line.replace(b"{n}", str(number).encode()).replace(b"{skip}", str(number + 2).encode())
    lines = [*VALID[: TURN + 1], line]
    error = _error(_write(tmp_path, lines))
    assert error.line == TURN + 2
    assert reason in error.reason
    assert f"line {TURN + 2}" in str(error)


def test_empty_and_blank_files(tmp_path):
    assert _error(_write(tmp_path, [])).reason == "file is empty"
    assert _error(_write(tmp_path, [b"   ", b""])).reason == "file is empty"


def test_persona_without_turns(tmp_path):
    error = _error(_write(tmp_path, [b"1 your persona: i like tea.", b"1 your persona: a."]))
    assert error.line == 1 and "no turn" in error.reason
    error = _error(_write(tmp_path, [*VALID, b"1 your persona: i like tea."]))
    assert error.line == len(VALID) + 1


def test_empty_persona_sentence(tmp_path):
    assert "empty persona" in _error(_write(tmp_path, [b"1 your persona:  "])).reason


def test_bad_utf8_names_line(tmp_path):
    error = _error(_write(tmp_path, _with(VALID, TURN + 1, VALID[TURN + 1] + b"\xff\xfe")))
    assert error.line == TURN + 2 and "UTF-8" in error.reason


def test_truncated_gzip(tmp_path):
    data = gzip.compress(b"\n".join(VALID * 40) + b"\n")
    path = tmp_path / "valid_both_original.txt.gz"
    path.write_bytes(data[: len(data) // 2])
    error = _error(path)
    assert "gzip" in error.reason and error.line >= 1


def test_gzip_roundtrip(tmp_path):
    path = tmp_path / "valid_both_original.txt.gz"
    path.write_bytes(gzip.compress(b"\n".join(VALID) + b"\n"))
    plain = read_personachat(_write(tmp_path, VALID))
    assert [(e.context, e.candidates, e.label) for e in read_personachat(path)] == [
        (e.context, e.candidates, e.label) for e in plain
    ]


def test_windows_line_endings_and_blank_lines_are_accepted(tmp_path):
    path = tmp_path / "valid_both_original.txt"
    path.write_bytes(b"\r\n".join(VALID) + b"\r\n\r\n")
    assert len(read_personachat(path)) == len(VALID) - PERSONA_LINES


# --- hypothesis: random corruptions of a real file always name the corrupted line ----------

_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\t|\\"
    ),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip())


@st.composite
def corruption(draw):
    """(lines, 1-based line number that must be reported)."""
    kind = draw(st.sampled_from(["fields", "label", "index", "jump", "utf8", "empty_cand"]))
    position = draw(st.integers(min_value=TURN, max_value=len(VALID) - 1))
    line = VALID[position]
    index, rest = line.split(b" ", 1)
    utterance, label, _, cands = rest.split(b"\t")
    if kind == "fields":
        bad = index + b" " + utterance
    elif kind == "label":
        new_label = draw(_text).encode()
        if new_label.strip() in cands.split(b"|"):
            new_label = b"definitely not a candidate " + new_label
        bad = b"\t".join([index + b" " + utterance, new_label, b"", cands])
    elif kind == "index":
        token = draw(_text.filter(lambda s: " " not in s and not (s.isascii() and s.isdigit())))
        bad = token.encode() + b" " + rest
    elif kind == "jump":
        previous = int(VALID[position - 1].split(b" ", 1)[0])
        new = draw(
            st.integers(min_value=0, max_value=99).filter(lambda n: n not in (1, previous + 1))
        )
        bad = str(new).encode() + b" " + rest
    elif kind == "utf8":
        cut = draw(st.integers(min_value=0, max_value=len(line)))
        bad = (
            line[:cut]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80"]))
            + line[cut:]
        )
    else:
        parts = cands.split(b"|")
        at = draw(st.integers(min_value=0, max_value=len(parts)))
        bad = b"\t".join(
            [index + b" " + utterance, label, b"", b"|".join([*parts[:at], b" ", *parts[at:]])]
        )
    return _with(VALID, position, bad), position + 1


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=corruption())
def test_random_corruptions_name_file_and_line(tmp_path, case):
    lines, expected_line = case
    error = _error(_write(tmp_path, lines))
    assert error.line == expected_line
