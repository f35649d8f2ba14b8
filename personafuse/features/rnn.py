"""Word-id and char-id tensors for the RNN backbones, built from ranking examples."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from personafuse.data.schema import RankingExample
from personafuse.text.embeddings import unique_texts
from personafuse.text.vocab import Vocabulary, tokenize

__all__ = ["RnnBatch", "RnnFeaturizer", "TokenTensors"]


@dataclass
class TokenTensors:
    """A group of tokenised sentences padded to the longest real one.

    Shapes:
        word_ids: (*group, L) word ids, 0 = padding.
        char_ids: (*group, L, W) character ids of each word, 0 = padding.
        lengths: (*group,) words per sentence; 0 marks a padding sentence.
    """

    word_ids: torch.Tensor
    char_ids: torch.Tensor
    lengths: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        """(*group,) True for real (non-empty) sentences."""
        return self.lengths > 0


@dataclass
class RnnBatch:
    """One batch for HRE/IMN: B contexts, each with C candidates.

    Shapes:
        context: (B, U, Lu) utterances, oldest first (padding utterances at the end).
        responses: (B, C, Lr) candidates.
        self_persona / partner_persona: (B, N, Lp) profile sentences, or None when not used.
        labels: (B,) index of the true candidate.
        response_vectors: (B, C, D) candidate vectors computed once for a response pool
            (:meth:`RnnFeaturizer.responses` through the network's ``encode_responses``);
            a backbone whose candidate vectors do not depend on the context (HRE) uses them
            instead of encoding ``responses``. None: encode them.
    """

    context: TokenTensors
    responses: TokenTensors
    self_persona: TokenTensors | None
    partner_persona: TokenTensors | None
    labels: torch.Tensor
    response_vectors: torch.Tensor | None = None

    def persona(self, name: str) -> TokenTensors | None:
        return self.self_persona if name == "self" else self.partner_persona

    def __len__(self) -> int:
        return self.labels.shape[0]


class RnnFeaturizer:
    """Turns examples into :class:`RnnBatch` with the paper's length limits.

    Utterances keep their first ``max_utterance_words`` words; a context keeps its last
    ``max_utterances`` utterances; at most ``max_profiles`` profile sentences. A context made
    of persona sentences (persona-only ranking, Table 2) is cut with the profile word limit
    ``max_profile_words``. Tensors are padded to the longest real sequence of the batch (never
    to the limit), so short batches cost less.

    Args:
        max_utterances / max_utterance_words / max_profiles / max_profile_words /
        max_response_words / max_word_chars: Limits from the paper (15/20/5/15/20/18).
        min_word_freq: Words rarer than this in the training split map to ``<unk>``.
    """

    def __init__(
        self,
        max_utterances: int = 15,
        max_utterance_words: int = 20,
        max_profiles: int = 5,
        max_profile_words: int = 15,
        max_response_words: int = 20,
        max_word_chars: int = 18,
        min_word_freq: int = 1,
    ):
        self.max_utterances = max_utterances
        self.max_utterance_words = max_utterance_words
        self.max_profiles = max_profiles
        self.max_profile_words = max_profile_words
        self.max_response_words = max_response_words
        self.max_word_chars = max_word_chars
        self.min_word_freq = min_word_freq
        self.vocab: Vocabulary | None = None
        self.char_vocab: Vocabulary | None = None
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def fit(self, train_examples: Sequence[RankingExample]) -> RnnFeaturizer:
        """Build the word and character vocabularies from the training split."""
        words = Counter(token for text in unique_texts(train_examples) for token in tokenize(text))
        self.vocab = Vocabulary.build(words, min_freq=self.min_word_freq)
        self.char_vocab = Vocabulary.build(Counter(c for w in words for c in w))
        self._cache.clear()
        return self

    def vocabularies(self) -> tuple[Vocabulary, Vocabulary]:
        """The word and character vocabularies (after :meth:`fit` or :meth:`load`)."""
        if self.vocab is None or self.char_vocab is None:
            raise RuntimeError("the featurizer has no vocabulary yet: fit it or load a run's")
        return self.vocab, self.char_vocab

    def save(self, directory: str | Path) -> None:
        """Write ``vocab.json`` and ``chars.json`` into a run directory."""
        vocab, char_vocab = self.vocabularies()
        vocab.save(Path(directory) / "vocab.json")
        char_vocab.save(Path(directory) / "chars.json")

    def load(self, directory: str | Path) -> RnnFeaturizer:
        """Use the vocabularies a training run saved (instead of :meth:`fit`)."""
        for name in ("vocab.json", "chars.json"):
            if not (Path(directory) / name).is_file():
                raise FileNotFoundError(
                    f"{Path(directory) / name}: missing; training saves it beside checkpoints/"
                )
        self.vocab = Vocabulary.load(Path(directory) / "vocab.json")
        self.char_vocab = Vocabulary.load(Path(directory) / "chars.json")
        self._cache.clear()
        return self

    def _ids(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Word ids (L,) and char ids (L, max_word_chars) of a text, cached per text."""
        cached = self._cache.get(text)
        if cached is None:
            vocab, char_vocab = self.vocabularies()
            tokens = tokenize(text)
            word_ids = np.asarray(vocab.encode(tokens), dtype=np.int64)
            char_ids = np.zeros((len(tokens), self.max_word_chars), dtype=np.int64)
            for w, token in enumerate(tokens):
                chars = char_vocab.encode(token[: self.max_word_chars])
                char_ids[w, : len(chars)] = chars
            cached = (word_ids, char_ids)
            # Candidates recur across contexts (negatives are shared): encode each text once.
            if len(self._cache) < 2_000_000:
                self._cache[text] = cached
        return cached

    def responses(self, texts: Sequence[str]) -> TokenTensors:
        """Candidates alone, cut like a batch's, as one group: (1, N, L)."""
        return self._group([texts], self.max_response_words)

    def token_arrays(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The word and char ids of each text, packed end to end for storing (a response
        pool's index): ``offsets`` (N + 1,), ``word_ids`` (T,), ``char_ids`` (T, W)."""
        encoded = [self._ids(text) for text in texts]
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(words) for words, _ in encoded])
        words = [w for w, _ in encoded] or [np.zeros(0, np.int64)]
        chars = [c for _, c in encoded] or [np.zeros((0, self.max_word_chars), np.int64)]
        return {
            "offsets": offsets,
            "word_ids": np.concatenate(words).astype(np.int32),
            "char_ids": np.concatenate(chars).astype(np.int32),
        }

    def remember(self, texts: Sequence[str], arrays: dict, rows: Sequence[int]) -> None:
        """Take the ids of ``texts`` from rows of stored :meth:`token_arrays` instead of
        tokenizing them again."""
        if len(self._cache) + len(texts) > 2_000_000:
            return  # the cache is full: _ids tokenizes them instead
        offsets = arrays["offsets"]
        for text, row in zip(texts, rows, strict=True):
            start, end = int(offsets[row]), int(offsets[row + 1])
            self._cache[text] = (
                np.asarray(arrays["word_ids"][start:end], dtype=np.int64),
                np.asarray(arrays["char_ids"][start:end], dtype=np.int64),
            )

    def forget(self) -> None:
        """Drop the per-text cache (to time tokenization, or after a vocabulary change)."""
        self._cache.clear()

    def _group(self, groups: list[Sequence[str]], max_words: int | list[int]) -> TokenTensors:
        """Pad a group of sentence lists; ``max_words`` is one limit or one per list."""
        limits = max_words if isinstance(max_words, list) else [max_words] * len(groups)
        encoded = [[self._ids(text) for text in group] for group in groups]
        lengths = np.zeros((len(groups), max(1, max(len(g) for g in groups))), dtype=np.int64)
        for b, group in enumerate(encoded):
            lengths[b, : len(group)] = [min(len(ids), limits[b]) for ids, _ in group]
        longest = max(1, int(lengths.max()))
        word_ids = np.zeros((*lengths.shape, longest), dtype=np.int64)
        char_ids = np.zeros((*lengths.shape, longest, self.max_word_chars), dtype=np.int64)
        for b, group in enumerate(encoded):
            for s, (ids, chars) in enumerate(group):
                n = lengths[b, s]
                word_ids[b, s, :n] = ids[:n]
                char_ids[b, s, :n] = chars[:n]
        # Trim the char axis to the longest real word of the batch.
        longest_word = max(1, int((char_ids > 0).sum(-1).max()))
        return TokenTensors(
            torch.from_numpy(word_ids),
            torch.from_numpy(np.ascontiguousarray(char_ids[..., :longest_word])),
            torch.from_numpy(lengths),
        )

    def _persona(self, examples: list[RankingExample], name: str) -> TokenTensors | None:
        profiles = [getattr(e, f"{name}_persona")[: self.max_profiles] for e in examples]
        return self._group(profiles, self.max_profile_words) if any(profiles) else None

    def __call__(self, examples: list[RankingExample]) -> RnnBatch:
        if self.vocab is None:
            raise RuntimeError("RnnFeaturizer.fit(train_examples) must run before featurizing")
        context_words = [
            self.max_profile_words if e.context_is_persona else self.max_utterance_words
            for e in examples
        ]
        return RnnBatch(
            context=self._group(
                [e.context[-self.max_utterances :] for e in examples], context_words
            ),
            responses=self._group([e.candidates for e in examples], self.max_response_words),
            self_persona=self._persona(examples, "self"),
            partner_persona=self._persona(examples, "partner"),
            labels=torch.tensor([e.label for e in examples], dtype=torch.long),
        )
