"""Interactive Matching Network (§4.2, Gu et al. CIKM 2019): HRE plus global cross-attention."""

from __future__ import annotations

import torch

from personafuse.backbones.base import BACKBONES
from personafuse.backbones.enhancement import EnhancedProjection, Enhancement, pair_starts
from personafuse.backbones.layers import max_last_pool
from personafuse.backbones.pooled_lstm import PooledBiLSTM
from personafuse.backbones.ranker import Encoded
from personafuse.backbones.sentences import ContextAggregator, RecurrentBackbone
from personafuse.config import ConfigError
from personafuse.features.rnn import RnnBatch
from personafuse.fusion.base import masked_softmax

__all__ = ["FUSION_RESPONSES", "IMN"]

# Which response vector r̄ persona fusion uses (see the IMN docstring).
FUSION_RESPONSES = ("sentence", "matched")


@BACKBONES.register("imn")
class IMN(RecurrentBackbone):
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
        word_vectors,
        num_chars: int,
        fusion_response: str = "sentence",
        enhancement_projection: bool = False,
        **encoder,
    ):
        if fusion_response not in FUSION_RESPONSES:
            raise ValueError(
                f"model.backbone.fusion_response={fusion_response!r}; "
                f"choose one of {', '.join(FUSION_RESPONSES)}"
            )
        super().__init__(word_vectors, num_chars, **encoder)
        self.fusion_response = fusion_response
        hidden_size, dropout = self.hidden_size, self.dropout_rate
        state_dim = self.sentences.state_dim
        self.enhance = (
            EnhancedProjection(state_dim, hidden_size)
            if enhancement_projection
            else Enhancement(state_dim)
        )
        self.compose = PooledBiLSTM(self.enhance.output_dim, hidden_size, dropout)
        self.context = ContextAggregator(self.compose.output_dim, hidden_size, dropout)
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
        to_response = masked_softmax(scores, response_mask[:, :, None, :], dim=-1)
        to_context = masked_softmax(scores, context_mask[:, None, :, None], dim=2)
        # Composition BiLSTM over the enhanced features of both sides (Eq. 20–22), from input
        # gates computed without the (B, C, T, 4·2h) features themselves, at real positions.
        context_lengths = context_mask.sum(1)  # (B,)
        context_gates = self.enhance.input_gates(
            context_words[:, None], to_response, responses, self.compose, context_lengths
        )  # (C · context_lengths.sum(), 2, 4h)
        response_lengths = batch.responses.lengths  # (B, C)
        longest_responses = response_lengths.amax(1)  # (B,): each context's own padding
        response_gates = self.enhance.input_gates(
            responses, to_context.transpose(2, 3), context_words[:, None], self.compose,
            longest_responses,
        )  # (C · longest_responses.sum(), 2, 4h)  # fmt: skip

        # Rows are (context, candidate, position): candidate c of context b starts at c · Tb
        # after the earlier contexts' rows; utterance u at its offset in the concatenation.
        lengths = batch.context.lengths  # (B, U)
        starts = (
            pair_starts(context_lengths, candidates)[..., None]
            + (lengths.cumsum(1) - lengths)[:, None, :]
        )  # (B, C, U)
        utterance_vectors = self.compose(
            context_gates, starts.reshape(-1), lengths[:, None, :].expand_as(starts).reshape(-1)
        ).reshape(batch_size * candidates, utterances, -1)
        counts = batch.context.mask.sum(-1)[:, None].expand(-1, candidates).reshape(-1)
        context = self.context(utterance_vectors, counts).reshape(batch_size, candidates, -1)
        response_vectors = self.compose(
            response_gates,
            pair_starts(longest_responses, candidates).reshape(-1),
            response_lengths.reshape(-1),
        ).reshape(batch_size, candidates, -1)

        fusion_responses = None
        if self.fusion_response == "sentence":
            # Cheap (a pooling of states already computed), so always given.
            fusion_responses = max_last_pool(
                responses.reshape(-1, response_len, responses.shape[-1]),
                response_lengths.reshape(-1),
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
