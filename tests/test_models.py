"""Featurizer, layers, HRE/IMN and the ranker: batched scoring equals per-candidate scoring."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from personafuse.backbones import BACKBONES
from personafuse.backbones.imn import EnhancedProjection
from personafuse.backbones.layers import BiLSTM, max_last_pool
from personafuse.config import CONFIG_DIR, compose_config
from personafuse.data import read_personachat, select_persona
from personafuse.models import PersonaRanker, RnnFeaturizer

from .conftest import RAW


@pytest.fixture(scope="module")
def examples(tiny_corpus):
    return select_persona(read_personachat(tiny_corpus / "valid_both_original.txt"), "both")


@pytest.fixture(scope="module")
def featurizer(examples):
    return RnnFeaturizer().fit(examples)


def test_featurizer_limits_and_trimming(featurizer, examples):
    small = RnnFeaturizer(
        max_utterances=3,
        max_utterance_words=4,
        max_profiles=2,
        max_response_words=5,
        max_word_chars=3,
    ).fit(examples)
    long_context = max(examples, key=lambda e: len(e.context))
    batch = small([long_context, examples[0]])
    assert batch.context.word_ids.shape[:2] == (2, 3)
    assert batch.context.word_ids.shape[2] <= 4 and batch.context.char_ids.shape[3] <= 3
    assert batch.responses.word_ids.shape[:2] == (2, 20) and batch.responses.word_ids.shape[2] <= 5
    assert batch.self_persona.word_ids.shape[1] == 2
    # the last three utterances are kept, oldest first
    expected = small.vocab.encode(long_context.context[-1].lower().split()[:1])
    assert batch.context.word_ids[0, 2, 0].item() == expected[0]
    # padded to the batch's longest real sequence, not to the limit
    full = featurizer([examples[0]])
    assert full.context.word_ids.shape[2] == max(len(u.split()) for u in examples[0].context)
    assert full.labels.tolist() == [examples[0].label]


def test_featurizer_without_persona_and_before_fit(featurizer, examples):
    batch = featurizer(select_persona(examples[:2], "none"))
    assert batch.self_persona is None and batch.partner_persona is None
    with pytest.raises(RuntimeError, match="fit"):
        RnnFeaturizer()(examples[:1])


def test_packed_bilstm_matches_each_sequence_alone():
    torch.manual_seed(0)
    layer = BiLSTM(5, 4)
    inputs = torch.randn(3, 6, 5)
    lengths = torch.tensor([6, 2, 0])
    out = layer(inputs, lengths)
    for i, n in enumerate(lengths.tolist()):
        if n:
            alone, _ = layer.lstm(inputs[i : i + 1, :n])
            torch.testing.assert_close(out[i, :n], alone[0])
        assert not out[i, n:].any()


def test_max_last_pool():
    states = torch.tensor(
        [[[1.0, -5.0], [3.0, -7.0], [9.0, 9.0]], [[-2.0, -1.0], [0.0, 0.0], [0.0, 0.0]]]
    )
    pooled = max_last_pool(states, torch.tensor([2, 1]))
    assert pooled.tolist() == [[3.0, -5.0, 3.0, -7.0], [-2.0, -1.0, -2.0, -1.0]]
    assert not max_last_pool(states, torch.tensor([0, 0])).any()


def test_enhanced_projection_equals_concatenation():
    torch.manual_seed(0)
    layer = EnhancedProjection(6, 4)
    x, aligned = torch.randn(2, 1, 5, 6), torch.randn(2, 3, 5, 6)
    naive = torch.relu(
        layer.linear(torch.cat([x.expand_as(aligned), aligned, x - aligned, x * aligned], -1))
    )
    torch.testing.assert_close(layer(x, aligned), naive)


def _ranker(
    name: str,
    featurizer,
    fusion="cra",
    personas=("self", "partner"),
    utterance_attention=False,
    **backbone_args,
) -> PersonaRanker:
    torch.manual_seed(0)
    vectors = np.random.default_rng(0).normal(size=(len(featurizer.vocab), 12)).astype(np.float32)
    backbone = BACKBONES.get(name)(
        vectors,
        len(featurizer.char_vocab),
        hidden_size=8,
        char_filters=3,
        dropout=0.2,
        **backbone_args,
    )
    return PersonaRanker(
        backbone, fusion, personas, mlp_hidden=8, utterance_attention=utterance_attention
    ).eval()


@pytest.mark.parametrize("fusion", ["na", "ca", "ra", "cra"])
@pytest.mark.parametrize("name", ["hre", "imn", "imn-matched", "hre-utterances", "imn-utterances"])
def test_batched_scores_equal_per_candidate_reference(name, fusion, featurizer, examples):
    backbone_args = {"fusion_response": "matched"} if name == "imn-matched" else {}
    ranker = _ranker(
        name.split("-")[0],
        featurizer,
        fusion,
        utterance_attention=name.endswith("utterances"),
        **backbone_args,
    )
    batch_examples = examples[:4]
    with torch.no_grad():
        scores = ranker(featurizer(batch_examples))
        assert scores.shape == (4, 20)
        for b, example in enumerate(batch_examples):
            for c in (0, 7, 19):
                single = dataclasses.replace(example, candidates=(example.candidates[c],), label=0)
                alone = ranker(featurizer([single]))
                torch.testing.assert_close(alone[0, 0], scores[b, c], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["hre", "imn"])
def test_persona_modes_and_errors(name, featurizer, examples):
    for personas, width in (((), 2), (("self",), 3), (("self", "partner"), 4)):
        ranker = _ranker(name, featurizer, "ra", personas)
        assert ranker.scorer[1].in_features == width * ranker.backbone.output_dim
        assert ranker(featurizer(examples[:2])).shape == (2, 20)
    ranker = _ranker(name, featurizer, "ra", ("partner",))
    with pytest.raises(ValueError, match="no partner persona"):
        ranker(featurizer(select_persona(examples[:2], "self")))


def test_imn_fusion_attends_with_the_sentence_encoders_response(featurizer, examples):
    """RA's attention over profiles uses r̄ from the sentence encoder (Eq. 6), the same space
    as the profile vectors, unless ``fusion_response="matched"``."""
    batch = featurizer(examples[:2])
    with torch.no_grad():
        sentence = _ranker("imn", featurizer, "ra", ("self",))
        encoded = sentence.backbone(batch, ("self",))
        expected = sentence.backbone.sentences(batch.responses)  # (B, C, 4h), Eq. 4-6
        torch.testing.assert_close(encoded.fusion_responses, expected)
        torch.testing.assert_close(sentence.backbone(batch, ()).fusion_responses, expected)
        matched = _ranker("imn", featurizer, "ra", ("self",), fusion_response="matched")
        assert matched.backbone(batch, ("self",)).fusion_responses is None
        # same weights, different attention: the scores differ
        assert not torch.allclose(sentence(batch), matched(batch))
    with pytest.raises(ValueError, match=r"fusion_response='last'.*sentence, matched"):
        _ranker("imn", featurizer, fusion_response="last")


@pytest.mark.parametrize("name", ["hre", "imn"])
def test_utterance_attention_attends_over_real_utterances_with_the_fusion_response(
    name, featurizer, examples
):
    """ũ = softmax_i(ū_iᵀ r̄) ū over the real utterances; ū is the sentence encoder's output."""
    batch = featurizer(examples[:3])
    ranker = _ranker(name, featurizer, "ra", (), utterance_attention=True)
    plain = _ranker(name, featurizer, "ra", ())
    dim = ranker.backbone.output_dim
    assert ranker.scorer[1].in_features == plain.scorer[1].in_features + dim
    with torch.no_grad():
        encoded = ranker.backbone(batch, ())
        vectors, mask = encoded.utterances
        torch.testing.assert_close(vectors, ranker.backbone.sentences(batch.context))
        assert mask.equal(batch.context.mask)
        responses = encoded.fusion_responses if name == "imn" else encoded.responses
        # The scorer's input is [ĉ; ũ ⊙ r̄; r]: read the ũ ⊙ r̄ block the ranker really feeds.
        seen = []
        hook = ranker.scorer[1].register_forward_hook(lambda _, inputs, __: seen.append(inputs[0]))
        assert ranker(batch).shape == (3, 20)
        hook.remove()
        fed = seen[0][..., -2 * dim : -dim]
        for b in range(3):
            real = vectors[b, mask[b]]  # brute force: only the real utterances take part
            for c in (0, 19):
                weights = torch.softmax(real @ responses[b, c], dim=0)
                torch.testing.assert_close(fed[b, c], (weights @ real) * responses[b, c])


def test_utterance_attention_needs_a_backbone_that_gives_utterances(featurizer, examples):
    ranker = _ranker("hre", featurizer, "ra", (), utterance_attention=True)
    forward = ranker.backbone.forward
    ranker.backbone.forward = lambda *args: dataclasses.replace(forward(*args), utterances=None)
    with pytest.raises(ValueError, match="utterance_attention=true needs utterance vectors"):
        ranker(featurizer(examples[:2]))


def test_imn_config_fusion_response_is_a_valid_choice():
    from personafuse.backbones.imn import FUSION_RESPONSES

    cfg = compose_config(overrides=["model=imn"])
    assert cfg.model.backbone.fusion_response in FUSION_RESPONSES
    assert "fusion_response" not in compose_config(overrides=["model=hre"]).model.backbone


def test_gradients_reach_every_trainable_parameter(featurizer, examples):
    ranker = _ranker("imn", featurizer).train()
    batch = featurizer(examples[:3])
    nn.functional.cross_entropy(ranker(batch), batch.labels).backward()
    missing = [n for n, p in ranker.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []
    assert not ranker.backbone.sentences.words.words.weight.requires_grad  # frozen word vectors


def test_model_yamls_name_registered_backbones():
    families = {
        path.stem: compose_config(overrides=[f"model={path.stem}"]).model.family
        for path in (CONFIG_DIR / "model").glob("*.yaml")
    }
    assert families == {"hre": "rnn", "imn": "rnn", "bert": "bert"}
    assert {name for name, family in families.items() if family == "rnn"} == set(BACKBONES.names())


def test_real_fixture_turns_featurize(featurizer):
    real = read_personachat(RAW / "test_both_original.txt")
    batch = RnnFeaturizer().fit(real)(real)
    assert batch.responses.word_ids.shape[:2] == (5, 20)
    assert batch.context.lengths[4, :9].gt(0).all()  # the fifth turn has 9 context utterances
