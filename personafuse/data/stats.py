"""Statistics of Persona-Chat files, checked against the known full-split counts.

Usage::

    python -m personafuse.data.stats FILE [FILE ...] [--json] [--strict]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from personafuse.data.parlai import PersonaChatFormatError, read_personachat
from personafuse.data.schema import RankingExample

__all__ = ["FULL_SPLIT_COUNTS", "FileStats", "compute_stats", "expected_counts", "main"]

# Dialogues / turns of the complete Persona-Chat splits (every variant has the same counts).
FULL_SPLIT_COUNTS = {"train": (8939, 65719), "valid": (1000, 7801), "test": (968, 7512)}
_SPLIT_FILE = re.compile(
    r"(?P<split>train|valid|test)_(none|self|other|both)_(original|revised)(_no_cands)?\.txt(\.gz)?"
)


@dataclass
class FileStats:
    """What one file holds. Counters map a size to how many dialogues/turns have it."""

    path: str
    dialogues: int = 0
    turns: int = 0
    self_persona_sizes: Counter = field(default_factory=Counter)
    partner_persona_sizes: Counter = field(default_factory=Counter)
    candidates_per_turn: Counter = field(default_factory=Counter)
    max_context_utterances: int = 0
    mean_context_utterances: float = 0.0
    duplicated_true_response: int = 0
    flags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready: counters become ``{"size": count}`` sorted by size."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Counter):
                value = {str(k): v for k, v in sorted(value.items())}
            out[f.name] = value
        return out


def expected_counts(path: str | Path) -> tuple[str, int, int] | None:
    """``(split, dialogues, turns)`` of the full split a file name stands for, else ``None``."""
    match = _SPLIT_FILE.fullmatch(Path(path).name)
    if match is None:
        return None
    return (match["split"], *FULL_SPLIT_COUNTS[match["split"]])


def compute_stats(examples: Sequence[RankingExample], path: str | Path = "") -> FileStats:
    """Count dialogues, turns, persona sizes and candidates; flag what differs from the split."""
    stats = FileStats(path=str(path))
    seen_dialogues = set()
    context_total = 0
    for example in examples:
        if example.dialogue_id not in seen_dialogues:
            seen_dialogues.add(example.dialogue_id)
            stats.self_persona_sizes[len(example.self_persona)] += 1
            stats.partner_persona_sizes[len(example.partner_persona)] += 1
        stats.candidates_per_turn[len(example.candidates)] += 1
        stats.max_context_utterances = max(stats.max_context_utterances, len(example.context))
        context_total += len(example.context)
        stats.duplicated_true_response += example.candidates.count(example.response) > 1
    stats.dialogues = len(seen_dialogues)
    stats.turns = len(examples)
    stats.mean_context_utterances = context_total / max(1, stats.turns)
    expected = expected_counts(path)
    if expected is not None:
        split, dialogues, turns = expected
        if (stats.dialogues, stats.turns) != (dialogues, turns):
            stats.flags.append(
                f"{stats.dialogues} dialogues / {stats.turns} turns differ from the full {split} "
                f"split ({dialogues} / {turns}): an excerpt, another release, or not Persona-Chat"
            )
    if stats.duplicated_true_response:
        stats.flags.append(
            f"{stats.duplicated_true_response} turns list their true response more than once "
            "(ties are ranked pessimistically)"
        )
    return stats


def _sizes(counter: Counter) -> str:
    return " ".join(f"{size}:{n}" for size, n in sorted(counter.items())) or "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m personafuse.data.stats",
        description="Statistics of Persona-Chat text files (dialogues, turns, persona sizes, "
        "candidates per turn, context length), with flags for anything unlike the release.",
        epilog="examples:\n"
        "  python -m personafuse.data.stats ~/.cache/personafuse/data/personachat/*.txt\n"
        "  python -m personafuse.data.stats --json --strict valid_both_original.txt",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", type=Path, help="ParlAI-format .txt files")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--strict", action="store_true", help="exit 1 when anything is flagged")
    args = parser.parse_args(argv)
    results = []
    for path in args.files:
        try:
            results.append(compute_stats(read_personachat(path), path))
        except (PersonaChatFormatError, OSError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        from rich.table import Table

        from personafuse.terminal import table_console

        table = Table(title="Persona-Chat files")
        for column in (
            "file",
            "dialogues",
            "turns",
            "self persona",
            "partner persona",
            "candidates/turn",
            "context (mean/max)",
        ):
            table.add_column(
                column, justify="left" if column == "file" else "right", no_wrap=column == "file"
            )
        for r in results:
            table.add_row(
                Path(r.path).name,
                str(r.dialogues),
                str(r.turns),
                _sizes(r.self_persona_sizes),
                _sizes(r.partner_persona_sizes),
                _sizes(r.candidates_per_turn),
                f"{r.mean_context_utterances:.1f}/{r.max_context_utterances}",
            )
        console = table_console()
        console.print(table)
        for r in results:
            for flag in r.flags:
                console.print(f"[yellow]flag[/yellow] {Path(r.path).name}: {flag}")
    return 1 if args.strict and any(r.flags for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
