"""What every persona fusion strategy shares: attention over the real profiles only."""

from __future__ import annotations

import torch
from torch import nn

from personafuse.registry import Registry

__all__ = ["FUSIONS", "PersonaFusion", "attend_profiles"]

FUSIONS: Registry[type[PersonaFusion]] = Registry("fusion")


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
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    weights = torch.nan_to_num(weights, nan=0.0)  # all-masked rows: softmax of -inf is NaN
    if scores.dim() == 2:
        return torch.einsum("bn,bnd->bd", weights, profiles)
    return torch.einsum("bcn,bnd->bcd", weights, profiles)


class PersonaFusion(nn.Module):
    """Base class: aggregate profile vectors into one persona vector per candidate.

    Subclasses implement :meth:`forward`; a strategy that does not look at the response
    computes its persona vector once per context and broadcasts it (a view, no copy).

    Args:
        dim: Size D of context, response and profile vectors.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

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
        raise NotImplementedError
