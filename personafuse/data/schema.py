"""The shape contract between data and models: one ranking example, one batch of text."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

__all__ = ["RankingExample", "TextBatch"]


@dataclass(frozen=True, slots=True)
class RankingExample:
    """One turn of a Persona-Chat dialogue seen from the responder's side.

    Attributes:
        dialogue_id: 0-based index of the dialogue in its source file.
        turn: 0-based index of the turn inside the dialogue.
        context: Every earlier utterance of both speakers, oldest first, ending with the
            partner's last utterance.
        self_persona: Profile sentences of the speaker who utters the response
            (``your persona:`` lines, prefix removed). Empty when the file has none.
        partner_persona: Profile sentences of the other speaker
            (``partner's persona:`` lines, prefix removed). Empty when the file has none.
        candidates: Response candidates (file order until shuffled). Empty for the
            ``*_no_cands`` files, which are kept for generation.
        label: Index of the true response in ``candidates``; ``None`` when there are no
            candidates.
        response: The true response text.
        candidate_ids: For every entry of ``candidates``, its position in the source file
            line, so shuffled candidates can be traced back.
        source: ``path:line`` of the turn in its source file, for error messages.
        context_is_persona: The context holds persona sentences instead of utterances
            (persona-only ranking, the paper's Table 2), so models cut it with their profile
            limits, not their utterance limits.
    """

    dialogue_id: int
    turn: int
    context: tuple[str, ...]
    self_persona: tuple[str, ...]
    partner_persona: tuple[str, ...]
    candidates: tuple[str, ...]
    label: int | None
    response: str
    candidate_ids: tuple[int, ...] = ()
    source: str = ""
    context_is_persona: bool = False

    @property
    def num_candidates(self) -> int:
        return len(self.candidates)


@dataclass(slots=True)
class TextBatch:
    """Raw text of a batch of contexts with their candidates; the default collation.

    Models that need tensors plug in their own featurizer instead (see
    :class:`personafuse.data.datamodule.RankingDataModule`).

    Shapes:
        labels: (B,) index of the true candidate of each context.
    """

    examples: list[RankingExample]
    labels: torch.Tensor = field(repr=False)

    @classmethod
    def collate(cls, examples: list[RankingExample]) -> TextBatch:
        return cls(examples=list(examples), labels=torch.tensor([e.label for e in examples]))

    def __len__(self) -> int:
        return len(self.examples)
