"""Word and character vocabularies (what torchtext's Vocab used to do)."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

__all__ = ["PAD", "UNK", "Vocabulary", "tokenize"]

PAD, UNK = "<pad>", "<unk>"
# Words (with an inner apostrophe) or single punctuation marks: persona lines end in "homes."
# with the period attached, utterances are already spaced ("hi , how are you ?").
_TOKEN = re.compile(r"\w+(?:'\w+)?|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-cased word and punctuation tokens."""
    return _TOKEN.findall(text.lower())


class Vocabulary:
    """Token ↔ id mapping with ``<pad>`` = 0 and ``<unk>`` = 1.

    Args:
        tokens: Tokens in id order, after the two specials.
    """

    def __init__(self, tokens: Iterable[str] = ()):
        self.itos: list[str] = [PAD, UNK]
        self.stoi: dict[str, int] = {PAD: 0, UNK: 1}
        for token in tokens:
            if token not in self.stoi:
                self.stoi[token] = len(self.itos)
                self.itos.append(token)

    @classmethod
    def build(
        cls, counts: Counter[str], min_freq: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        """Most frequent first (ties broken alphabetically, so builds are reproducible)."""
        ranked = sorted(
            (t for t, n in counts.items() if n >= min_freq), key=lambda t: (-counts[t], t)
        )
        return cls(ranked[:max_size] if max_size is not None else ranked)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def encode(self, tokens: Iterable[str]) -> list[int]:
        return [self.stoi.get(t, 1) for t in tokens]

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.itos[2:]))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        return cls(json.loads(Path(path).read_text()))
