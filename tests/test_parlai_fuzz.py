"""Fuzz the reader: >= 1,000 generated corruptions of a real file, 0 silently accepted, and no
exception other than PersonaChatFormatError. Seeded, so a failure reproduces."""

from __future__ import annotations

import random

from personafuse.data import PersonaChatFormatError, read_personachat

from .conftest import RAW

VALID = (RAW / "valid_both_original.txt").read_bytes().splitlines()
TURNS = [i for i, line in enumerate(VALID) if b"\t" in line]
CONTROL = [bytes([c]) for c in (*range(0, 9), 11, 12, *range(14, 32), 127)]


def _replace(lines: list[bytes], index: int, line: bytes) -> list[bytes]:
    return [*lines[:index], line, *lines[index + 1 :]]


def _split(line: bytes) -> tuple[bytes, list[bytes]]:
    index, rest = line.split(b" ", 1)
    return index, rest.split(b"\t")


def must_fail(rng: random.Random) -> tuple[str, bytes, int]:
    """A corruption that makes the file invalid Persona-Chat: (kind, file bytes, bad line)."""
    kind = rng.choice(["drop_candidate", "extra_candidate", "control", "cut", "index", "tab"])
    at = rng.choice(TURNS)
    index, (utterance, response, reward, candidates) = _split(VALID[at])
    parts = candidates.split(b"|")
    if kind == "drop_candidate":  # 19 candidates (never the true one: it is last)
        del parts[rng.randrange(len(parts) - 1)]
        line = b"\t".join([index + b" " + utterance, response, reward, b"|".join(parts)])
    elif kind == "extra_candidate":  # 21 candidates
        parts.insert(rng.randrange(len(parts)), rng.choice(parts[:-1]) + b" again")
        line = b"\t".join([index + b" " + utterance, response, reward, b"|".join(parts)])
    elif kind == "control":  # a control character anywhere after the index
        position = rng.randrange(len(index) + 1, len(VALID[at]))
        line = VALID[at][:position] + rng.choice(CONTROL) + VALID[at][position:]
    elif kind == "cut":  # the file ends inside a turn's response or candidates
        start = len(index) + 1 + len(utterance) + 1
        lines = [*VALID[:at], VALID[at][: rng.randrange(start + 1, len(VALID[at]))]]
        return kind, b"\n".join(lines), at + 1
    elif kind == "index":  # any line index but the right one (1 would start a new dialogue)
        right = int(index)
        wrong = rng.choice([n for n in range(0, 40) if n not in (1, right)])
        line = str(wrong).encode() + VALID[at][len(index) :]
    else:  # the tab between utterance and response becomes a space
        line = VALID[at].replace(b"\t", b" ", 1)
    return kind, b"\n".join(_replace(VALID, at, line)) + b"\n", at + 1


def anything(rng: random.Random) -> bytes:
    """Random byte edits that may or may not leave a valid file: robustness only."""
    data = bytearray(b"\n".join(VALID) + b"\n")
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(["flip", "delete", "insert", "truncate", "drop_line", "swap_lines"])
        if op == "flip":
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif op == "delete":
            start = rng.randrange(len(data))
            del data[start : start + rng.randint(1, 20)]
        elif op == "insert":
            data[rng.randrange(len(data)) : 0] = rng.choice(
                [b"\t", b"|", b"\n", b" ", b"\\n", b"\x00"]
            )
        elif op == "truncate":
            del data[rng.randrange(len(data)) :]
        else:
            lines = bytes(data).split(b"\n")
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            if op == "drop_line":
                del lines[i]
            else:
                lines[i], lines[j] = lines[j], lines[i]
            data = bytearray(b"\n".join(lines))
        if not data:
            break
    return bytes(data)


def test_fuzzed_files_are_refused_with_the_right_line_and_never_crash(tmp_path):
    rng = random.Random(20261126)
    path = tmp_path / "valid_both_original.txt"
    silently_accepted, wrong_line, other_exceptions, refused = [], [], [], 0
    for case in range(800):
        kind, data, bad_line = must_fail(rng)
        path.write_bytes(data)
        try:
            read_personachat(path)
            silently_accepted.append((case, kind))
        except PersonaChatFormatError as err:
            refused += 1
            if err.line != bad_line:
                wrong_line.append((case, kind, err.line, bad_line))
        except Exception as err:
            other_exceptions.append((case, kind, repr(err)))
    for case in range(400):
        path.write_bytes(anything(rng))
        try:
            read_personachat(path)
        except PersonaChatFormatError:
            refused += 1
        except Exception as err:
            other_exceptions.append((800 + case, "random", repr(err)))
    print(f"fuzz: 1200 cases, {refused} refused, {len(silently_accepted)} invalid accepted")
    assert silently_accepted == []
    assert wrong_line == []
    assert other_exceptions == []
    assert refused >= 800
