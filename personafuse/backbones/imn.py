"""Interactive Matching Network (§4.2, Gu et al. CIKM 2019): HRE plus global cross-attention."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from personafuse.backbones.base import BACKBONES
from personafuse.backbones.hre import ContextAggregator, SentenceEncoder
from personafuse.backbones.layers import BiLSTM, max_last_pool
from personafuse.backbones.ranker import Encoded
from personafuse.backbones.vector import VectorBackbone
from personafuse.config import ConfigError
from personafuse.features.rnn import RnnBatch

__all__ = ["FUSION_RESPONSES", "IMN", "EnhancedProjection", "Enhancement"]

# Which response vector r̄ persona fusion uses (see the IMN docstring).
FUSION_RESPONSES = ("sentence", "matched")


def _masked_softmax(scores: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=dim)
    return torch.nan_to_num(weights, nan=0.0)  # rows with nothing to attend to


class Enhancement(nn.Module):
    """[x; x̃; x − x̃; x ⊙ x̃], the enhanced features that IMN's composition BiLSTM reads.

    Shapes:
        x: (B, 1 or C, T, H); aligned: (B, C, T, H) -> (B, C, T, 4H).
    """

    def __init__(self, state_dim: int):
        super().__init__()
        self.output_dim = 4 * state_dim

    def forward(self, x: torch.Tensor, aligned: torch.Tensor) -> torch.Tensor:
        x = x.expand_as(aligned)
        return torch.cat([x, aligned, x - aligned, x * aligned], dim=-1)


class EnhancedProjection(nn.Module):
    """ReLU(W [x; x̃; x − x̃; x ⊙ x̃] + b), computed without materialising the 4H concatenation.

    W splits into four blocks, so W[...] = (W1 + W3) x + (W2 − W3) x̃ + W4 (x ⊙ x̃). When x is
    shared by all candidates (the context side), its term is computed once per context.

    Shapes:
        x: (B, 1 or C, T, H); aligned: (B, C, T, H) -> (B, C, T, output_dim).
    """

    def __init__(self, state_dim: int, output_dim: int):
        super().__init__()
        self.linear = nn.Linear(4 * state_dim, output_dim)
        self.output_dim = output_dim

    def forward(self, x: torch.Tensor, aligned: torch.Tensor) -> torch.Tensor:
        w1, w2, w3, w4 = self.linear.weight.chunk(4, dim=1)
        out = x @ (w1 + w3).T + aligned @ (w2 - w3).T + (x * aligned) @ w4.T + self.linear.bias
        return torch.relu(out)


@BACKBONES.register("imn")
class IMN(VectorBackbone):
    """Sentence encoder → global bidirectional cross-attention between all context words and
    each response (Eq. 19) → enhancement [x; x̃; x − x̃; x ⊙ x̃] → composition BiLSTM, split back
    into utterances → context BiLSTM. The context vector therefore depends on the candidate:
    (B, C, D).

    Profiles are encoded as in HRE (the paper: "persona aggregation in IMN is identical").

    Args:
        fusion_response: Which r̄ persona fusion uses: ``"sentence"``, the sentence encoder's
            [max; last] response vector (Eq. 6, the profiles' space, as in HRE), or
            ``"matched"``, the matched response vector that the scorer sees (docs/models.md).
        enhancement_projection: Beyond the original IMN, which feeds the 4·2h enhanced
            features to the composition BiLSTM directly: project them to ``hidden_size``
            with a ReLU first, as in ESIM's composition layer (a smaller BiLSTM input).
        Others: as in :class:`~personafuse.backbones.hre.HRE`.
    """

    provides = frozenset({"utterances"})

    @classmethod
    def check_config(cls, model_cfg) -> None:
        super().check_config(model_cfg)
        choice = model_cfg.backbone.get("fusion_response", "sentence")
        if choice not in FUSION_RESPONSES:
            raise ConfigError(
                f"model.backbone.fusion_response={choice}; valid choices: "
                f"{', '.join(FUSION_RESPONSES)}"
            )
        projection = model_cfg.backbone.get("enhancement_projection", False)
        if not isinstance(projection, bool):
            raise ConfigError(
                f"model.backbone.enhancement_projection={projection}; valid choices: true, false"
            )

    def __init__(
        self,
        word_vectors: np.ndarray,
        num_chars: int,
        hidden_size: int = 200,
        char_filters: int = 50,
        char_windows=(3, 4, 5),
        dropout: float = 0.2,
        fusion_response: str = "sentence",
        enhancement_projection: bool = False,
    ):
        super().__init__()
        if fusion_response not in FUSION_RESPONSES:
            raise ValueError(
                f"model.backbone.fusion_response={fusion_response!r}; "
                f"choose one of {', '.join(FUSION_RESPONSES)}"
            )
        self.fusion_response = fusion_response
        self.sentences = SentenceEncoder(
            word_vectors, num_chars, hidden_size, char_filters, char_windows, dropout
        )
        state_dim = self.sentences.state_dim
        self.enhance = (
            EnhancedProjection(state_dim, hidden_size)
            if enhancement_projection
            else Enhancement(state_dim)
        )
        self.compose = BiLSTM(self.enhance.output_dim, hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.context = ContextAggregator(2 * self.compose.output_dim, hidden_size, dropout)
        self.output_dim = self.context.output_dim

    def forward(self, batch: RnnBatch, personas: tuple[str, ...] = ()) -> Encoded:
        batch_size, utterances, utterance_len = batch.context.word_ids.shape
        candidates, response_len = batch.responses.word_ids.shape[1:]
        profiles = [self.sentences.persona_tokens(batch, name) for name in personas]
        word_states, responses, *profile_vectors = self.sentences.encode_groups(
            [batch.context, batch.responses, *profiles], [True, True] + [False] * len(profiles)
        )  # (B, U, Lu, H), (B, C, Lr, H), (B, N, D) …
        response_mask = (
            torch.arange(response_len, device=responses.device) < batch.responses.lengths[..., None]
        )

        # Concatenate the real words of all utterances: (B, Tc, H), Tc = longest real context.
        word_mask = (
            torch.arange(utterance_len, device=word_states.device)
            < batch.context.lengths[..., None]
        )
        flat_mask = word_mask.reshape(batch_size, -1)
        order = torch.sort((~flat_mask).to(torch.int8), dim=1, stable=True).indices
        context_len = int(flat_mask.sum(1).max())
        order = order[:, :context_len]
        context_words = word_states.reshape(batch_size, -1, word_states.shape[-1]).gather(
            1, order[..., None].expand(-1, -1, word_states.shape[-1])
        )
        context_mask = torch.arange(context_len, device=order.device) < flat_mask.sum(
            1, keepdim=True
        )

        # Eq. 19: e_ik = c̄_iᵀ r̄_k for every candidate.
        scores = torch.einsum("bih,bckh->bcik", context_words, responses)  # (B, C, Tc, Lr)
        to_response = _masked_softmax(scores, response_mask[:, :, None, :], dim=-1)
        to_context = _masked_softmax(scores, context_mask[:, None, :, None], dim=2)
        context_aligned = torch.einsum("bcik,bckh->bcih", to_response, responses)
        response_aligned = torch.einsum("bcik,bih->bckh", to_context, context_words)
        context_enhanced = self.enhance(context_words[:, None], context_aligned)  # (B, C, Tc, E)
        response_enhanced = self.enhance(responses, response_aligned)  # (B, C, Lr, E)

        # Split the context back into utterances: scatter the real words to their positions.
        enhanced_dim = self.enhance.output_dim
        padded = context_enhanced.new_zeros(
            batch_size, candidates, utterances * utterance_len, enhanced_dim
        )
        index = order[:, None, :, None].expand(-1, candidates, -1, enhanced_dim)
        padded = padded.scatter(2, index, context_enhanced * context_mask[:, None, :, None])
        lengths = batch.context.lengths[:, None, :].expand(-1, candidates, -1).reshape(-1)
        composed = self.dropout(
            self.compose(padded.reshape(-1, utterance_len, enhanced_dim), lengths)
        )
        utterance_vectors = max_last_pool(composed, lengths).reshape(
            batch_size * candidates, utterances, -1
        )
        counts = batch.context.mask.sum(-1)[:, None].expand(-1, candidates).reshape(-1)
        context = self.context(utterance_vectors, counts).reshape(batch_size, candidates, -1)

        response_lengths = batch.responses.lengths.reshape(-1)
        composed = self.dropout(
            self.compose(
                response_enhanced.reshape(-1, response_len, enhanced_dim), response_lengths
            )
        )
        response_vectors = max_last_pool(composed, response_lengths).reshape(
            batch_size, candidates, -1
        )

        fusion_responses = None
        if self.fusion_response == "sentence":
            # Cheap (a pooling of states already computed), so always given.
            fusion_responses = max_last_pool(
                responses.reshape(-1, response_len, responses.shape[-1]), response_lengths
            ).reshape(batch_size, candidates, -1)
        utterance_vectors = max_last_pool(
            word_states.reshape(-1, utterance_len, word_states.shape[-1]),
            batch.context.lengths.reshape(-1),
        ).reshape(batch_size, utterances, -1)
        return Encoded(
            context,
            response_vectors,
            {name: (profile_vectors[i], profiles[i].mask) for i, name in enumerate(personas)},
            fusion_responses,
            utterances=(utterance_vectors, batch.context.mask),
        )
