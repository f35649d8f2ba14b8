"""IMN's enhanced features [x; x̃; x − x̃; x ⊙ x̃] and its composition LSTM's input gates.

The composition BiLSTM reads 4·2h = 1600-d features for every (candidate, word) pair. Its input
projection is linear, so the gates are computed from far smaller parts (see
:meth:`Enhancement.input_gates`) and the features themselves are never built.
"""

from __future__ import annotations

import torch
from torch import nn

from personafuse.backbones.pooled_lstm import PooledBiLSTM

__all__ = ["EnhancedProjection", "Enhancement", "pair_starts"]


def _attend(attention: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``attention @ values``, where ``values`` may be shared by all candidates (C = 1): then
    one product per context, with no expanded copy.

    Shapes:
        attention: (B, C, T, S); values: (B, 1 or C, S, D) -> (B, C, T, D).
    """
    batch, candidates, length, source = attention.shape
    values = values.to(attention.dtype)  # autocast: a float32 softmax with bfloat16 values
    if values.shape[1] == 1:
        flat = attention.reshape(batch, candidates * length, source) @ values[:, 0]
    else:
        flat = attention.reshape(batch * candidates, length, source) @ values.reshape(
            batch * candidates, source, -1
        )
    return flat.reshape(batch, candidates, length, values.shape[-1])


class Enhancement(nn.Module):
    """[x; x̃; x − x̃; x ⊙ x̃], the enhanced features that IMN's composition BiLSTM reads.

    :meth:`input_gates` gives the LSTM's input projection of these features without building
    them: W splits into four blocks, W[...] = (W1 + W3) x + (W2 − W3) x̃ + W4 (x ⊙ x̃), where
    x̃ = A v (attention A over the other side's states v), so (W2 − W3) x̃ = A ((W2 − W3) v)
    is computed over the other side's S words instead of the 4·2h features, and the x term
    once per context when x is shared by all candidates. Only the product term is per pair.

    Shapes:
        x: (B, 1 or C, T, H); aligned: (B, C, T, H) -> (B, C, T, 4H).
    """

    def __init__(self, state_dim: int):
        super().__init__()
        self.output_dim = 4 * state_dim

    def forward(self, x: torch.Tensor, aligned: torch.Tensor) -> torch.Tensor:
        x = x.expand_as(aligned)
        return torch.cat([x, aligned, x - aligned, x * aligned], dim=-1)

    def input_gates(
        self,
        x: torch.Tensor,
        attention: torch.Tensor,
        values: torch.Tensor,
        composition: PooledBiLSTM,
        lengths: torch.Tensor,
    ) -> torch.Tensor:
        """``composition``'s input gates of ``forward(x, attention @ values)`` at the real
        positions only: the first ``lengths[b]`` of each context's T, for every candidate.

        Shapes:
            x: (B, 1 or C, T, H); attention: (B, C, T, S); values: (B, 1 or C, S, H);
            lengths: (B,) -> (R, 2, 4h), rows in (context, candidate, position) order,
            R = C · lengths.sum().
        """
        weight, bias = composition.input_weights()
        own, aligned, difference, product = weight.chunk(4, dim=1)
        real = _real_positions(attention, lengths)
        products = (x * _attend(attention, values))[real]  # the only per-pair features
        own_terms = x @ (own + difference).T + bias  # per context on the shared side
        value_terms = values @ (aligned - difference).T  # over the other side's S words
        terms = (lengths, own_terms, attention, value_terms)
        if torch.is_grad_enabled() and products.requires_grad:
            additive = _per_context_terms(*terms).to(products.dtype)
            gates = torch.addmm(additive, products, product.T.to(products.dtype))
        else:  # evaluation: in place, no copies (autograd would copy the whole tensor per add)
            gates = products @ product.T.to(products.dtype)
            _add_per_context(gates, *terms)
        return gates.unflatten(-1, (2, -1))


def _real_positions(attention: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mask of the first ``lengths[b]`` positions of every candidate.

    Shapes:
        attention: (B, C, T, S); lengths: (B,) -> (B, C, T).
    """
    length = attention.shape[2]
    real = torch.arange(length, device=lengths.device) < lengths[:, None]
    return real[:, None, :].expand(-1, attention.shape[1], -1)


def pair_starts(lengths: torch.Tensor, candidates: int) -> torch.Tensor:
    """First row of each (context, candidate) block of T_b rows, in input_gates' layout.

    Shapes:
        lengths: (B,) T_b -> (B, C).
    """
    rows = candidates * lengths
    candidate = torch.arange(candidates, device=lengths.device)
    return (rows.cumsum(0) - rows)[:, None] + candidate[None, :] * lengths[:, None]


def _per_context_terms(
    lengths: torch.Tensor,
    own_terms: torch.Tensor,
    attention: torch.Tensor,
    value_terms: torch.Tensor,
) -> torch.Tensor:
    """own_terms[b] + attention[b] @ value_terms[b] at each context's real positions, context
    by context (each at its own length), in :meth:`Enhancement.input_gates`' row order. Out of
    place, so that training's backward pass handles each block once.

    Shapes:
        lengths: (B,); own_terms: (B, 1 or C, T, 8h); attention: (B, C, T, S); value_terms:
        (B, 1 or C, S, 8h) -> (R, 8h).
    """
    width, blocks = own_terms.shape[-1], []
    for context, length in enumerate(lengths.tolist()):
        if length == 0:  # no real positions: no rows
            continue
        attended = _attend(attention[context : context + 1, :, :length],
                           value_terms[context : context + 1])  # fmt: skip
        blocks.append((attended + own_terms[context : context + 1, :, :length]).reshape(-1, width))
    if not blocks:
        return own_terms.new_zeros(0, width)
    return torch.cat(blocks)


def _add_per_context(
    gates: torch.Tensor,
    lengths: torch.Tensor,
    own_terms: torch.Tensor,
    attention: torch.Tensor,
    value_terms: torch.Tensor,
) -> None:
    """``gates += _per_context_terms(...)`` in place, block by block, for evaluation.

    Shapes:
        gates: (R, 8h); the others as in :func:`_per_context_terms`.
    """
    candidates, width, offset = attention.shape[1], gates.shape[-1], 0
    for context, length in enumerate(lengths.tolist()):
        if length == 0:  # no real positions: no rows
            continue
        block = gates[offset : offset + candidates * length].view(candidates, length, width)
        offset += candidates * length
        block += own_terms[context, :, :length]
        context_attention = attention[context, :, :length].to(gates.dtype)
        values = value_terms[context].to(gates.dtype)
        if len(values) == 1:  # shared by all candidates: one product, no expanded copy
            block.view(-1, width).addmm_(context_attention.reshape(-1, values.shape[1]), values[0])
        else:
            block.baddbmm_(context_attention, values)


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

    def input_gates(
        self,
        x: torch.Tensor,
        attention: torch.Tensor,
        values: torch.Tensor,
        composition: PooledBiLSTM,
        lengths: torch.Tensor,
    ) -> torch.Tensor:
        """``composition``'s input gates of the projected features (as
        :meth:`Enhancement.input_gates`)."""
        weight, bias = composition.input_weights()
        projected = self(x, _attend(attention, values))[_real_positions(attention, lengths)]
        return (projected @ weight.T + bias).unflatten(-1, (2, -1))
