"""IMN's composition from input gates equals the original formulation: the (B, C, T, 4·2h)
enhanced features, a padded BiLSTM over each utterance and response, then [max; last]."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from personafuse.backbones import BACKBONES, PersonaRanker
from personafuse.backbones.enhancement import EnhancedProjection, Enhancement
from personafuse.backbones.layers import BiLSTM, max_last_pool, unique_rows
from personafuse.backbones.pooled_lstm import PooledBiLSTM
from personafuse.data import read_personachat, select_persona
from personafuse.features import RnnFeaturizer

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def examples(tiny_corpus):
    return select_persona(read_personachat(tiny_corpus / "valid_both_original.txt"), "both")


@pytest.fixture(scope="module")
def featurizer(examples):
    return RnnFeaturizer().fit(examples)


def _padded_bilstm(layer: PooledBiLSTM) -> BiLSTM:
    reference = BiLSTM(layer.lstm.input_size, layer.lstm.hidden_size)
    reference.lstm = layer.lstm
    return reference


def test_pooled_bilstm_equals_bilstm_then_max_last_pool_with_the_same_gradients():
    torch.manual_seed(0)
    layer = PooledBiLSTM(7, 5)
    lengths = torch.tensor([3, 0, 6, 1, 6, 2, 0, 4])
    inputs = torch.randn(len(lengths), 6, 7, requires_grad=True)
    expected = max_last_pool(_padded_bilstm(layer)(inputs, lengths), lengths)
    weight, bias = layer.input_weights()
    gates = (inputs @ weight.T + bias).unflatten(-1, (2, -1)).reshape(-1, 2, 20)
    pooled = layer(gates, torch.arange(len(lengths)) * 6, lengths)
    torch.testing.assert_close(pooled, expected)
    with torch.no_grad():  # evaluation gathers each step's gates as it runs
        torch.testing.assert_close(layer(gates, torch.arange(len(lengths)) * 6, lengths), expected)
    assert pooled[1].abs().sum() == 0 and pooled[6].abs().sum() == 0  # empty sequences
    probe = torch.randn_like(expected)
    wanted = torch.autograd.grad((expected * probe).sum(), [inputs, *layer.lstm.parameters()])
    got = torch.autograd.grad((pooled * probe).sum(), [inputs, *layer.lstm.parameters()])
    for a, b in zip(got, wanted, strict=True):
        torch.testing.assert_close(a, b)
    # rows outside every sequence (padding, other sides) are never read
    noisy = gates.clone()
    noisy[torch.arange(len(lengths) * 6) % 6 >= 4] = 1e6
    short = lengths.clamp(max=4)
    torch.testing.assert_close(
        layer(noisy, torch.arange(len(lengths)) * 6, short),
        layer(gates, torch.arange(len(lengths)) * 6, short),
    )


@pytest.mark.parametrize("module", [Enhancement(6), EnhancedProjection(6, 5)], ids=type)
@pytest.mark.parametrize("shared", [True, False], ids=["context-side", "response-side"])
def test_input_gates_equal_the_lstm_projection_of_the_features(module, shared):
    torch.manual_seed(0)
    composition = PooledBiLSTM(module.output_dim, 4)
    x = torch.randn(2, 1 if shared else 3, 5, 6)
    attention = torch.softmax(torch.randn(2, 3, 5, 7), dim=-1)
    values = torch.randn(2, 3 if shared else 1, 7, 6)
    aligned = attention @ values
    weight, bias = composition.input_weights()
    expected = (module(x, aligned) @ weight.T + bias).unflatten(-1, (2, -1))  # (2, 3, 5, 2, 8)
    lengths = torch.tensor([5, 2])  # the second context's positions 2–4 are padding
    gates = module.input_gates(x, attention, values, composition, lengths)
    wanted = torch.cat([expected[0].flatten(0, 1), expected[1, :, :2].flatten(0, 1)])
    torch.testing.assert_close(gates, wanted, rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # evaluation adds the terms in place
        gates = module.input_gates(x, attention, values, composition, lengths)
        torch.testing.assert_close(gates, wanted, rtol=1e-5, atol=1e-5)
        no_rows = module.input_gates(x, attention, values, composition, torch.tensor([0, 2]))
        torch.testing.assert_close(no_rows, wanted[15:], rtol=1e-5, atol=1e-5)
    # a context without real positions has no rows
    gates = module.input_gates(x, attention, values, composition, torch.tensor([0, 2]))
    torch.testing.assert_close(gates, expected[1, :, :2].flatten(0, 1), rtol=1e-5, atol=1e-5)
    # autocast on a GPU gives a float32 attention (softmax) next to bfloat16 states
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = module.input_gates(x.bfloat16(), attention, values.bfloat16(), composition, lengths)
    torch.testing.assert_close(mixed.float(), wanted, rtol=0.05, atol=0.05)


@pytest.fixture(scope="module")
def reference_forward():
    """IMN's forward before the input-gate composition, kept in the benchmark that times it."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module("imn_composition").reference_forward
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.mark.parametrize("projection", [False, True], ids=["paper", "projected"])
def test_imn_vectors_and_gradients_equal_the_original_formulation(
    projection, featurizer, examples, reference_forward
):
    torch.manual_seed(0)
    vectors = np.random.default_rng(0).normal(size=(len(featurizer.vocab), 12)).astype(np.float32)
    imn = BACKBONES.get("imn")(
        vectors, len(featurizer.char_vocab), hidden_size=8, char_filters=3, dropout=0.0,
        enhancement_projection=projection,
    )  # fmt: skip
    ranker = PersonaRanker(imn, "ra", ("self",), mlp_hidden=8)
    imn.sentences.deduplicate = False  # the reference encodes every copy too
    batch = featurizer(examples[:5])  # contexts of different lengths, 20 candidates each
    assert len(set(batch.context.mask.sum(-1).tolist())) > 1
    encoded = imn(batch, ("self",))
    reference = reference_forward(imn, batch, ("self",))
    context, responses = reference.context, reference.responses
    torch.testing.assert_close(encoded.context, context, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(encoded.responses, responses, rtol=1e-5, atol=1e-5)
    for got, wanted in [
        (encoded.fusion_responses, reference.fusion_responses),
        (encoded.utterances, reference.utterances),
        (encoded.personas, reference.personas),
    ]:
        torch.testing.assert_close(got, wanted)
    parameters = [p for p in ranker.parameters() if p.requires_grad]
    probe = torch.randn_like(context), torch.randn_like(responses)
    got = torch.autograd.grad(
        (encoded.context * probe[0]).sum() + (encoded.responses * probe[1]).sum(),
        parameters, allow_unused=True,
    )  # fmt: skip
    wanted = torch.autograd.grad(
        (context * probe[0]).sum() + (responses * probe[1]).sum(), parameters, allow_unused=True
    )
    for a, b in zip(got, wanted, strict=True):
        if b is not None:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    # Training with dropout: the composition's outputs are dropped before pooling, as the
    # reference drops the composed sequence; every composition weight still gets a gradient.
    for module in imn.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.5
    imn.train()
    first, second = imn(batch).context, imn(batch).context
    assert not torch.allclose(first, second)  # fresh masks each call
    first.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in imn.compose.parameters())


def test_unique_rows_is_exact_even_when_two_rows_share_a_hash():
    torch.manual_seed(0)
    rows = torch.randint(0, 3, (500, 4))
    distinct, inverse = unique_rows(rows)
    assert torch.equal(distinct[inverse], rows)
    assert len(distinct) == len(torch.unique(rows, dim=0))
    # Two different rows with the same wrapped hash: a·m0 + b·m1 == (a + m1)·m0 + (b − m0)·m1.
    generator = torch.Generator().manual_seed(2)
    m0, m1 = (torch.randint(0, 2**62, (2,), generator=generator) * 2 + 1).tolist()
    colliding = torch.tensor([[0, 0], [m1, -m0], [0, 0]])
    hashes = (colliding * torch.tensor([m0, m1])).sum(1)
    assert hashes[0] == hashes[1]  # the fallback is exercised
    distinct, inverse = unique_rows(colliding)
    assert len(distinct) == 2 and torch.equal(distinct[inverse], colliding)
    assert inverse[0] == inverse[2] != inverse[1]
