"""A BiLSTM that reads precomputed input gates and returns only its [max; last] pooling."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

__all__ = ["PooledBiLSTM", "stacked_input_weights"]


def stacked_input_weights(lstm: nn.LSTM) -> tuple[torch.Tensor, torch.Tensor]:
    """Both directions' input weights and summed biases, forward first.

    Shapes:
        -> weight (2·4h, E), bias (2·4h,): ``inputs @ weight.T + bias`` are the input gates of
        :meth:`PooledBiLSTM.forward`, viewed as (…, 2, 4h).
    """
    parameters: dict[str, torch.Tensor] = dict(lstm.named_parameters())
    weight = torch.cat([parameters["weight_ih_l0"], parameters["weight_ih_l0_reverse"]])
    bias = torch.cat(
        [
            parameters["bias_ih_l0"] + parameters["bias_hh_l0"],
            parameters["bias_ih_l0_reverse"] + parameters["bias_hh_l0_reverse"],
        ]
    )
    return weight, bias


class PooledBiLSTM(nn.Module):
    """``max_last_pool(dropout(BiLSTM(x)))`` for sequences given by their input gates.

    IMN's composition LSTM reads 4·2h = 1600-d enhanced features for every (candidate,
    context word) pair. Its input projection ``W_ih x`` is linear, so the caller can compute it
    from parts far smaller than the features (``enhancement.Enhancement.input_gates``); this
    module runs the recurrence on those gates, in float32 (also under autocast). Sequences are
    sorted by length and stepped like a packed sequence (only the still-running ones at each
    step), both directions in one batched product, and the pooling is kept as a running
    maximum, so the (N, L, 2h) outputs are never stored. Same results as
    :class:`~personafuse.backbones.layers.BiLSTM` followed by
    :func:`~personafuse.backbones.layers.max_last_pool` (tested, outputs and gradients).

    The parameters are a plain ``nn.LSTM`` (``self.lstm``), so checkpoints are unchanged.

    Args:
        input_size: E, the size of the inputs the gates were computed from.
        hidden_size: h per direction.
        dropout: Applied to the outputs before pooling, as ``dropout(BiLSTM(x))`` would.

    Shapes:
        gates: (R, 2, 4h) input gates with biases, forward direction first, one row per input
        position; starts, lengths: (N,) each sequence's first row and length -> (N, 4h):
        [max over positions (2h); forward state at the last position (h); backward state at
        position 0 (h)]. Sequences of length 0 give zeros.
    """

    def __init__(self, input_size: int, hidden_size: int, dropout: float = 0.0):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.output_dim = 4 * hidden_size

    def input_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The LSTM's input weights and summed biases (:func:`stacked_input_weights`)."""
        return stacked_input_weights(self.lstm)

    def forward(
        self, gates: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        count = len(lengths)
        order = torch.argsort(lengths, descending=True, stable=True)
        lengths, starts = lengths[order], starts[order]
        steps = int(lengths[0]) if count else 0
        # Time-major, like PackedSequence.data: step t holds the sequences longer than t.
        running = torch.arange(steps, device=lengths.device)[:, None] < lengths[None, :]
        step_of, sequence = running.nonzero(as_tuple=True)
        row = starts[sequence]
        forward_rows = row + step_of
        backward_rows = row + lengths[sequence] - 1 - step_of  # reversed within each length
        # float32 whatever autocast made the gates: the cell state accumulates over the steps.
        flat = gates.float().reshape(-1, gates.shape[-1])  # (2R, 4h): 2r forward, 2r + 1 back
        sizes = [*running.sum(1).tolist(), 0]
        # Per step, both directions' rows: [forward of the running sequences; backward of them].
        rows = torch.stack([2 * forward_rows, 2 * backward_rows + 1])  # (2, P)
        if flat.requires_grad:
            # One gather and one split: their backward passes are one scatter-add and one
            # concatenation, where gathering step by step would build a full-size gradient
            # for every step.
            gathered = flat.index_select(0, rows.reshape(-1)).view(2, -1, flat.shape[-1])
            step_inputs: Iterable[torch.Tensor] = gathered.split(sizes[:-1], dim=1)
        else:  # gathered when each step runs, so its gates are read while still in cache
            step_inputs = (flat.index_select(0, step_rows.reshape(-1)).view(2, -1, flat.shape[-1])
                           for step_rows in rows.split(sizes[:-1], dim=1))  # fmt: skip
        parameters = dict(self.lstm.named_parameters())
        weights = torch.stack([parameters["weight_hh_l0"], parameters["weight_hh_l0_reverse"]])
        weights = weights.transpose(1, 2).float()  # (2, h, 4h)

        finished_states, finished_maxima = [], []
        state, cell, maximum = None, None, None
        for step, step_gates in enumerate(step_inputs):
            size, following = sizes[step], sizes[step + 1]
            if state is not None:  # the state starts at zero: no recurrent term at step 0
                with torch.autocast(gates.device.type, enabled=False):  # stays float32
                    if flat.requires_grad:
                        step_gates = torch.baddbmm(step_gates, state, weights)
                    else:
                        step_gates = step_gates.baddbmm_(state, weights)
            in_gate, forget_gate, cell_gate, out_gate = step_gates.chunk(4, dim=-1)
            new_cell = torch.sigmoid(in_gate) * torch.tanh(cell_gate)
            if cell is not None:
                new_cell = torch.addcmul(new_cell, torch.sigmoid(forget_gate), cell)
            cell = new_cell
            state = torch.sigmoid(out_gate) * torch.tanh(cell)
            output = self.dropout(state)
            maximum = output if maximum is None else torch.maximum(maximum, output)
            if following < size:  # these sequences end here: their last state is final
                finished_states.append(output[:, following:])
                finished_maxima.append(maximum[:, following:])
            state, cell, maximum = state[:, :following], cell[:, :following], maximum[:, :following]

        pooled = flat.new_zeros(count, self.output_dim)
        if finished_states:
            states = torch.cat(finished_states[::-1], dim=1)  # sorted rows 0 … ended first last
            maxima = torch.cat(finished_maxima[::-1], dim=1)
            done = torch.cat([maxima[0], maxima[1], states[0], states[1]], dim=-1)
            pooled = torch.cat([done, pooled[len(done) :]])
        return pooled[torch.argsort(order)]
