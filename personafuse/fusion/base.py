"""What every persona fusion strategy shares: attention over the real profiles only, and a
declaration of how the strategy feeds the persona to BERT.

One registry, :data:`FUSIONS`, serves every backbone. An entry is a :class:`PersonaFusion`
subclass: its ``forward`` says how it attends over profile vectors (HRE, IMN and any vector
backbone), its ``bert`` attribute which input layout it needs for BERT. A strategy without a
``forward`` cannot serve vector backbones, one without ``bert`` cannot serve BERT; both are
checked when the config is composed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from personafuse.registry import Registry

__all__ = [
    "FUSIONS",
    "SEGMENTS",
    "BertLayout",
    "PersonaFusion",
    "attend_profiles",
    "masked_softmax",
]

FUSIONS: Registry[type[PersonaFusion]] = Registry("fusion")

SEGMENTS = ("persona", "context", "response")


@dataclass(frozen=True)
class BertLayout:
    """How a strategy feeds the persona to a BERT cross-encoder (§4.3).

    Every layout keeps BERT's first pass ``[CLS] context [SEP] response [SEP]`` unless it is
    ``joint``.

    Attributes:
        persona_pass: Segments of a second pass through the same weights, after ``[CLS]`` and
            each closed by ``[SEP]``: NA ``("persona",)``, CA ``("persona", "context")``, RA
            ``("persona", "response")``. The pooled vectors of both passes are concatenated.
        joint: One pass ``[CLS] persona <separator> context [SEP] response [SEP]`` with the
            learned subtype embedding, and no second pass (CRA).
        per_profile: The second pass runs once per profile sentence, ``persona`` standing for
            that sentence (and may add the context, not the response). The strategy's own
            ``forward`` then aggregates the pooled profile vectors p̄_n exactly as it aggregates
            the profile vectors of HRE, with the first pass's (B, C, H) vectors as ĉ and r̄.
    """

    persona_pass: tuple[str, ...] = ()
    joint: bool = False
    per_profile: bool = False

    def __post_init__(self) -> None:
        unknown = [s for s in self.persona_pass if s not in SEGMENTS]
        if unknown:
            raise ValueError(f"BertLayout segment {unknown[0]!r}; valid: {', '.join(SEGMENTS)}")
        if self.joint == bool(self.persona_pass):
            raise ValueError("BertLayout: give either persona_pass segments or joint=True")
        if self.persona_pass and "persona" not in self.persona_pass:
            raise ValueError("BertLayout: the persona pass must read the persona")
        if len(self.persona_pass) > 2:
            raise ValueError("BertLayout: a persona pass reads at most two segments")
        if self.per_profile and (self.joint or self.per_candidate):
            raise ValueError(
                "BertLayout: per_profile passes read the persona and at most the context"
            )

    @property
    def per_candidate(self) -> bool:
        """Whether the persona pass depends on the candidate; if not, it runs once per context
        and is broadcast to the context's candidates."""
        return "response" in self.persona_pass


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax over the positions where ``mask`` is True; a row with none gets zeros instead
    of NaN (the softmax of only -inf). Every attention here uses it: persona fusion and IMN's
    cross-attention.

    Shapes:
        scores: any; mask: broadcastable to ``scores``, True where attending is allowed.
    """
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=dim)
    return torch.nan_to_num(weights, nan=0.0)


def attend_profiles(
    scores: torch.Tensor, profiles: torch.Tensor, profile_mask: torch.Tensor
) -> torch.Tensor:
    """Softmax over the real (unpadded) profiles, then the weighted sum of their vectors.

    A context without any real profile gets a zero persona vector instead of NaN.

    Shapes:
        scores: (B, N) or (B, C, N) attention logits α.
        profiles: (B, N, D) profile vectors p̄.
        profile_mask: (B, N) True for real profiles.
        returns: (B, D) or (B, C, D) persona vector p̂.
    """
    mask = profile_mask if scores.dim() == 2 else profile_mask[:, None, :]
    weights = masked_softmax(scores, mask)
    if scores.dim() == 2:
        return torch.einsum("bn,bnd->bd", weights, profiles)
    return torch.einsum("bcn,bnd->bcd", weights, profiles)


class PersonaFusion(nn.Module):
    """Base class: aggregate profile vectors into one persona vector per candidate.

    Subclasses implement :meth:`forward` (vector backbones) and/or set :attr:`bert` (BERT);
    register them with ``@FUSIONS.register("name")``. A strategy that does not look at the
    response computes its persona vector once per context and broadcasts it (a view, no copy).

    Args:
        dim: Size D of context, response and profile vectors.
    """

    bert: ClassVar[BertLayout | None] = None

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    @classmethod
    def attends(cls) -> bool:
        """Whether the strategy aggregates profile vectors itself (implements ``forward``)."""
        return cls.forward is not PersonaFusion.forward

    def forward(
        self,
        context: torch.Tensor,
        responses: torch.Tensor,
        profiles: torch.Tensor,
        profile_mask: torch.Tensor,
    ) -> torch.Tensor:
        """Persona vector p̂ for every candidate.

        Shapes:
            context: (B, D) context vector ĉ, or (B, C, D) when it depends on the candidate.
            responses: (B, C, D) response vectors r̄.
            profiles: (B, N, D) profile vectors p̄.
            profile_mask: (B, N) True for real profiles.
            returns: (B, C, D).
        """
        raise NotImplementedError(f"{type(self).__name__} does not attend over profile vectors")
