"""A backbone, one fusion per fused persona, and the MLP scorer (Eq. 17–18)."""

from __future__ import annotations

import torch
from torch import nn

from personafuse.fusion import FUSIONS, ResponseAwareFusion

__all__ = ["PersonaRanker"]


class PersonaRanker(nn.Module):
    """Scores every candidate of every context: m = [ĉ; p̂; r̄] → MLP → score.

    With no fused persona (``persona=none``, or persona-only runs where the persona takes the
    place of the context) m = [ĉ; r̄], the Table 3 baseline. With ``persona=both`` each persona
    gets its own fusion module of the chosen strategy: m = [ĉ; p̂_self; p̂_partner; r̄].
    Fusion attends with the backbone's ``fusion_responses`` when it gives them (IMN: the
    sentence encoder's r̄, in the profiles' space), else with the scored ``responses``.

    Args:
        backbone: Module mapping a batch to :class:`~personafuse.backbones.Encoded`; its
            ``output_dim`` is D.
        fusion: Registered fusion name (``na``, ``ca``, ``ra``, ``cra``); unused without personas.
        personas: Which personas to fuse, e.g. ``("self",)``.
        mlp_hidden: Hidden units of the scorer (paper: 256).
        dropout: Dropout on the matching feature and the hidden layer.
        interactions: Beyond the paper: also feed ĉ ⊙ r̄ and p̂ ⊙ r̄ to the MLP. Eq. 17's
            concatenation leaves it to the MLP to learn any comparison of vectors, which takes
            tens of thousands of steps; the products give it one directly.
        utterance_attention: Beyond the paper: attend over the context's utterance vectors ū
            with r̄ exactly as RA attends over profiles (Eq. 13–14), and feed ũ ⊙ r̄ to the
            MLP. ĉ comes from a second BiLSTM, so ĉ ⊙ r̄ compares two unrelated spaces at
            initialisation; ū and r̄ come from the same sentence encoder, which gives the
            context the same direct path to the score that p̂ ⊙ r̄ gives the persona.
    """

    def __init__(
        self,
        backbone: nn.Module,
        fusion: str,
        personas: tuple[str, ...] = (),
        mlp_hidden: int = 256,
        dropout: float = 0.2,
        interactions: bool = False,
        utterance_attention: bool = False,
    ):
        super().__init__()
        self.backbone = backbone
        self.personas = tuple(personas)
        self.interactions = interactions
        dim = backbone.output_dim
        self.fusions = nn.ModuleDict({name: FUSIONS.get(fusion)(dim) for name in self.personas})
        self.utterance_fusion = ResponseAwareFusion(dim) if utterance_attention else None
        parts = (2 + len(self.personas)) * (2 if interactions else 1) - (1 if interactions else 0)
        parts += int(utterance_attention)
        self.scorer = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(dim * parts, mlp_hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_hidden, 1),
        )

    def forward(self, batch) -> torch.Tensor:
        """Shapes: returns (B, C) scores (logits of the softmax over candidates)."""
        encoded = self.backbone(batch, self.personas)
        responses = encoded.responses
        fusion_responses = (
            responses if encoded.fusion_responses is None else encoded.fusion_responses
        )
        context = encoded.context
        features = [context if context.dim() == 3 else context[:, None, :].expand_as(responses)]
        personas = [
            self.fusions[name](context, fusion_responses, *encoded.personas[name])
            for name in self.personas
        ]
        features += personas
        if self.interactions:
            features.append(features[0] * responses)
            features += [persona * fusion_responses for persona in personas]
        if self.utterance_fusion is not None:
            if encoded.utterances is None:
                raise ValueError(
                    f"model.utterance_attention=true needs utterance vectors, which the "
                    f"{type(self.backbone).__name__} backbone does not give"
                )
            attended = self.utterance_fusion(context, fusion_responses, *encoded.utterances)
            features.append(attended * fusion_responses)
        features.append(responses)
        return self.scorer(torch.cat(features, dim=-1)).squeeze(-1)
