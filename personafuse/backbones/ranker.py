"""The scorer of vector backbones: fusion per persona, matching features, MLP (Eq. 17–18)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import nn

from personafuse.fusion import FUSIONS
from personafuse.matching import MATCHING, MatchingInputs

__all__ = ["Encoded", "PersonaRanker", "VectorEncoder"]


@dataclass
class Encoded:
    """What a vector backbone hands to fusion and scoring.

    Shapes:
        context: (B, D) when the context is encoded once per context (HRE), or (B, C, D) when
            it depends on the candidate (IMN's cross-attention).
        responses: (B, C, D).
        personas: name -> ((B, N, D) profile vectors, (B, N) mask of real profiles).
        fusion_responses: (B, C, D) response vectors persona fusion attends with and compares
            to the persona vector, when they differ from ``responses`` (IMN: the sentence
            encoder's r̄, in the space of the profile vectors); None means ``responses``.
        utterances: ((B, U, D) sentence vectors ū of the context utterances, in the space of
            ``fusion_responses``, (B, U) mask of real utterances); None when not computed.
    """

    context: torch.Tensor
    responses: torch.Tensor
    personas: dict[str, tuple[torch.Tensor, torch.Tensor]]
    fusion_responses: torch.Tensor | None = None
    utterances: tuple[torch.Tensor, torch.Tensor] | None = None


class VectorEncoder(Protocol):
    """What :class:`PersonaRanker` needs of its backbone (a
    :class:`~personafuse.backbones.vector.VectorBackbone`, which builds the ranker around
    itself; named here by what it does, so that neither module imports the other)."""

    output_dim: int

    def __call__(self, batch, personas: tuple[str, ...]) -> Encoded: ...

    def response_vectors(self, tokens) -> torch.Tensor | None: ...


class PersonaRanker(nn.Module):
    """Scores every candidate of every context: matching feature m → MLP → score.

    With ``matching=("concat",)`` m = [ĉ; p̂; r̄] (Eq. 17); with no fused persona
    (``persona=none``, or persona-only runs) m = [ĉ; r̄], the Table 3 baseline; with
    ``persona=both`` each persona gets its own fusion module of the chosen strategy. Fusion
    attends with the backbone's ``fusion_responses`` when it gives them (IMN: the sentence
    encoder's r̄, in the profiles' space), else with the scored ``responses``.

    Args:
        backbone: Module mapping a batch to :class:`Encoded`; its ``output_dim`` is D.
        fusion: Registered fusion name; unused without personas.
        personas: Which personas to fuse, e.g. ``("self",)``.
        mlp_hidden: Hidden units of the scorer (paper: 256).
        dropout: Dropout on the matching feature and the hidden layer.
        matching: Registered matching features, concatenated in this order.
    """

    def __init__(
        self,
        backbone: VectorEncoder,
        fusion: str,
        personas: tuple[str, ...] = (),
        mlp_hidden: int = 256,
        dropout: float = 0.2,
        matching: Sequence[str] = ("concat",),
    ):
        super().__init__()
        self.backbone = backbone
        self.personas = tuple(personas)
        dim = backbone.output_dim
        self.fusions = nn.ModuleDict({name: FUSIONS.get(fusion)(dim) for name in self.personas})
        features = [MATCHING.get(name)(dim, len(self.personas)) for name in matching]
        self.matching = nn.ModuleList(features)
        self.scorer = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(sum(feature.width for feature in features), mlp_hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_hidden, 1),
        )

    def encode_responses(self, tokens) -> torch.Tensor | None:
        """The backbone's context-independent candidate vectors (HRE's r̄), which a batch
        may then carry as ``response_vectors``; None when it has none.

        Shapes:
            tokens: (*group, L) -> (*group, D).
        """
        return self.backbone.response_vectors(tokens)

    def forward(self, batch) -> torch.Tensor:
        """Shapes: returns (B, C) scores (logits of the softmax over candidates)."""
        encoded = self.backbone(batch, self.personas)
        responses = encoded.responses
        fusion_responses = (
            responses if encoded.fusion_responses is None else encoded.fusion_responses
        )
        context = encoded.context
        inputs = MatchingInputs(
            context=context if context.dim() == 3 else context[:, None, :].expand_as(responses),
            personas=[
                self.fusions[name](context, fusion_responses, *encoded.personas[name])
                for name in self.personas
            ],
            responses=responses,
            fusion_responses=fusion_responses,
            utterances=encoded.utterances,
        )
        features = torch.cat([feature(inputs) for feature in self.matching], dim=-1)
        return self.scorer(features).squeeze(-1)
