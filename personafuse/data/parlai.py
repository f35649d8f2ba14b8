"""Reader for Persona-Chat in ParlAI's text format (plain or gzip), strict and lossless.

Line format (ParlAI ``fbdialog``)::

    N your persona: <sentence>
    N partner's persona: <sentence>
    N <partner utterance>\t<true response>\t<reward>\t<cand 1>|...|<cand 20>

``N`` restarts at 1 for each new dialogue. The parse matches ParlAI's own
(``FbDeprecatedDialogTeacher``): fields are stripped, a literal ``\\n`` becomes a newline,
candidates are split on ``|``. Unlike ParlAI, anything ParlAI would silently accept but that
cannot be Persona-Chat raises :class:`PersonaChatFormatError` naming the file and the line: a
jumping line index, a persona line after the first turn, a true response that is not among the
candidates, a turn with other than 20 candidates, a control character (NUL, ...), a turn line
without its four fields in a file whose turns have candidates (a line cut short), ...
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

from personafuse.data.schema import RankingExample

__all__ = [
    "NUM_CANDIDATES",
    "PERSONA_PREFIXES",
    "PersonaChatFormatError",
    "iter_personachat",
    "read_personachat",
]

SELF_PREFIX = "your persona:"
PARTNER_PREFIX = "partner's persona:"
PERSONA_PREFIXES = (SELF_PREFIX, PARTNER_PREFIX)
NUM_CANDIDATES = 20  # every Persona-Chat turn with candidates has 1 true + 19 negatives
_GZIP_MAGIC = b"\x1f\x8b"
# C0 control characters other than tab and the line ending, and DEL: never in Persona-Chat
# text. (C1 characters U+0080–U+009F are left alone: mis-encoded text may hold them.)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class PersonaChatFormatError(ValueError):
    """A Persona-Chat file does not follow the format; names the file and the 1-based line."""

    def __init__(self, path: str | os.PathLike, line: int, message: str, text: str | None = None):
        self.path = str(path)
        self.line = line
        self.reason = message
        shown = ""
        if text is not None:
            shown = text if len(text) <= 120 else text[:117] + "..."
            shown = f"\n    {shown!r}"
        super().__init__(f"{self.path}, line {line}: {message}{shown}")


def read_personachat(
    path: str | os.PathLike, num_candidates: int | None = NUM_CANDIDATES
) -> list[RankingExample]:
    """Read every turn of a Persona-Chat file.

    Args:
        path: A ``{split}_{none,self,other,both}_{original,revised}[_no_cands].txt`` file,
            optionally gzip-compressed (detected from its content, not its name).
        num_candidates: Candidates every turn with candidates must have (Persona-Chat: 20);
            None accepts any number.

    Returns:
        One :class:`RankingExample` per turn line, in file order.

    Raises:
        PersonaChatFormatError: On any malformed line, bad UTF-8, a truncated gzip stream
            or an empty file.
    """
    return list(iter_personachat(path, num_candidates))


def _raw_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, decoded_line)``; decoding and gzip errors name the line."""
    with open(path, "rb") as probe:
        is_gzip = probe.read(2) == _GZIP_MAGIC
    opener = gzip.open if is_gzip else open
    line_number = 0
    try:
        with opener(path, "rb") as handle:
            for line_number, raw in enumerate(handle, start=1):
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as err:
                    raise PersonaChatFormatError(
                        path, line_number, f"invalid UTF-8 ({err.reason} at byte {err.start})"
                    ) from None
                control = _CONTROL.search(text.rstrip("\r\n"))
                if control:
                    raise PersonaChatFormatError(
                        path,
                        line_number,
                        f"control character U+{ord(control.group()):04X} at column "
                        f"{control.start() + 1}",
                    )
                yield line_number, text
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise PersonaChatFormatError(
            path, line_number + 1, f"gzip stream is truncated or corrupt ({err})"
        ) from None


class _Dialogue:
    """Accumulates one dialogue while reading."""

    def __init__(self, dialogue_id: int, start_line: int):
        self.dialogue_id = dialogue_id
        self.start_line = start_line
        self.self_persona: list[str] = []
        self.partner_persona: list[str] = []
        self.history: list[str] = []
        self.turns = 0


class _Layout:
    """How many tab-separated fields every turn of the file has: 2 (utterance, response) in
    ParlAI's ``*_no_cands`` files, 4 (utterance, response, reward, candidates) in the others.
    Fixed by the file name, so a line cut inside its response is caught even on line one."""

    def __init__(self, path: Path, num_candidates: int | None):
        self.num_candidates = num_candidates
        self.fields = 2 if "_no_cands" in path.name else 4

    def check(self, fields: list[str], fail) -> None:
        if len(fields) == self.fields:
            return
        if self.fields == 2:
            raise fail(
                f"turn has {len(fields)} tab-separated fields; turns of a *_no_cands file have 2 "
                "(utterance, response)"
            )
        raise fail(
            f"turn has {len(fields)} tab-separated fields; turns of a file with candidates have 4 "
            "(utterance, response, reward, candidates): is the line cut short? (files without "
            "candidates are named *_no_cands.txt)"
        )


def iter_personachat(
    path: str | os.PathLike, num_candidates: int | None = NUM_CANDIDATES
) -> Iterator[RankingExample]:
    """Stream the turns of a Persona-Chat file; see :func:`read_personachat`."""
    path = Path(path)
    dialogue: _Dialogue | None = None
    layout = _Layout(path, num_candidates)
    last_index = 0
    saw_content = False
    for line_number, raw in _raw_lines(path):
        line = raw.strip().replace("\\n", "\n")
        if not line:
            continue
        saw_content = True

        def fail(message: str, _n: int = line_number, _t: str = line) -> PersonaChatFormatError:
            return PersonaChatFormatError(path, _n, message, _t)

        index_text, _, rest = line.partition(" ")
        if not (index_text.isascii() and index_text.isdigit()):
            raise fail(f"line must start with a line index, found {index_text!r}")
        index = int(index_text)
        if index == 1:
            if dialogue is not None and dialogue.turns == 0:
                raise PersonaChatFormatError(
                    path, dialogue.start_line, "dialogue has persona lines but no turn"
                )
            dialogue = _Dialogue(0 if dialogue is None else dialogue.dialogue_id + 1, line_number)
        elif dialogue is None or index != last_index + 1:
            raise fail(
                f"line index {index} does not follow {last_index} "
                f"(expected {last_index + 1}, or 1 to start a new dialogue)"
            )
        last_index = index

        fields = [part.strip() for part in rest.split("\t")]
        if len(fields) == 1:
            _add_persona_line(dialogue, fields[0], fail)
            continue
        layout.check(fields, fail)
        yield _turn(path, line_number, dialogue, fields, fail, layout.num_candidates)
    if not saw_content:
        raise PersonaChatFormatError(path, 1, "file is empty")
    if dialogue is not None and dialogue.turns == 0:
        raise PersonaChatFormatError(
            path, dialogue.start_line, "dialogue has persona lines but no turn"
        )


def _add_persona_line(dialogue: _Dialogue, text: str, fail) -> None:
    for prefix, sink in (
        (SELF_PREFIX, dialogue.self_persona),
        (PARTNER_PREFIX, dialogue.partner_persona),
    ):
        if text.startswith(prefix):
            if dialogue.turns:
                raise fail("persona line after the first turn of the dialogue")
            sentence = text[len(prefix) :].strip()
            if not sentence:
                raise fail("empty persona sentence")
            sink.append(sentence)
            return
    raise fail(
        "line has no tab-separated response and is not a persona line "
        f"(expected {SELF_PREFIX!r} or {PARTNER_PREFIX!r})"
    )


def _turn(
    path: Path,
    line_number: int,
    dialogue: _Dialogue,
    fields: list[str],
    fail,
    num_candidates: int | None,
):
    utterance, response = fields[0], fields[1]
    if not utterance:
        raise fail("empty utterance before the first tab")
    if not response:
        raise fail("missing true response (second tab-separated field is empty)")
    if "|" in response:
        raise fail("several true responses ('|' in the label field); expected exactly one")
    if len(fields) > 2 and fields[2]:
        raise fail(f"unexpected reward field {fields[2]!r}; Persona-Chat has none")
    candidates: tuple[str, ...] = ()
    label = None
    if len(fields) == 4:
        candidates = tuple(fields[3].split("|"))
        for position, candidate in enumerate(candidates, start=1):
            if not candidate.strip():
                raise fail(f"candidate {position} of {len(candidates)} is empty")
        matches = [i for i, candidate in enumerate(candidates) if candidate == response]
        if not matches:
            raise fail(f"true response is not among the {len(candidates)} candidates")
        if num_candidates is not None and len(candidates) != num_candidates:
            raise fail(
                f"turn has {len(candidates)} candidates; Persona-Chat turns have "
                f"{num_candidates} (datamodule.num_candidates)"
            )
        # The raw files append the true response last; a duplicate of it among the negatives
        # keeps its own index (ties are ranked pessimistically, so this never flatters a model).
        label = matches[-1]
    context = (*dialogue.history, utterance)
    example = RankingExample(
        dialogue_id=dialogue.dialogue_id,
        turn=dialogue.turns,
        context=context,
        self_persona=tuple(dialogue.self_persona),
        partner_persona=tuple(dialogue.partner_persona),
        candidates=candidates,
        label=label,
        response=response,
        candidate_ids=tuple(range(len(candidates))),
        source=f"{path}:{line_number}",
    )
    dialogue.history.extend((utterance, response))
    dialogue.turns += 1
    return example
