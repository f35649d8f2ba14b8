"""Featurizer, layers, HRE/IMN and the ranker: batched scoring equals per-candidate scoring."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from personafuse.backbones import BACKBONES, PersonaRanker, VectorBackbone
from personafuse.backbones.enhancement import EnhancedProjection
from personafuse.backbones.layers import BiLSTM, max_last_pool
from personafuse.config import CONFIG_DIR, compose_config
from personafuse.data import read_personachat, select_persona
from personafuse.features import RnnFeaturizer
from personafuse.fusion import FUSIONS
from personafuse.matching import MATCHING

from .conftest import RAW

VECTOR_BACKBONES = [n for n, b in BACKBONES.items() if issubclass(b, VectorBackbone)]
VECTOR_FUSIONS = [n for n, f in FUSIONS.items() if f.attends()]


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


@pytest.mark.parametrize("bucket_size", [256, 2], ids=["one-bucket", "length-buckets"])
def test_bilstm_matches_each_sequence_alone_with_the_same_gradients(bucket_size):
    """Padding never enters a real state: each output (and each weight gradient) is that of
    nn.LSTM reading the sequence alone, also when the sequences run in length buckets."""
    torch.manual_seed(0)
    layer = BiLSTM(5, 4)
    layer.bucket_size = bucket_size
    inputs = torch.randn(6, 6, 5, requires_grad=True)
    lengths = torch.tensor([6, 2, 0, 3, 1, 6])
    out = layer(inputs, lengths)
    out.sum().backward()
    ours = [w.grad.clone() for w in layer.lstm.parameters()] + [inputs.grad.clone()]
    layer.zero_grad()
    inputs.grad = None
    reference = 0
    for i, n in enumerate(lengths.tolist()):
        if n:
            alone, _ = layer.lstm(inputs[i : i + 1, :n])
            torch.testing.assert_close(out[i, :n], alone[0])
            reference = reference + alone.sum()
        assert not out[i, n:].any()
    reference.backward()
    expected = [w.grad for w in layer.lstm.parameters()] + [inputs.grad]
    for mine, wanted in zip(ours, expected, strict=True):
        torch.testing.assert_close(mine, wanted)


def test_max_last_pool_takes_each_directions_final_state():
    """[max ; forward state at the last real position ; backward state at position 0]."""
    # Two positions per state: (forward, backward) halves of size 1.
    states = torch.tensor(
        [[[1.0, -5.0], [3.0, -7.0], [9.0, 9.0]], [[-2.0, -1.0], [0.0, 0.0], [0.0, 0.0]]]
    )
    pooled = max_last_pool(states, torch.tensor([2, 1]))
    assert pooled.tolist() == [[3.0, -5.0, 3.0, -5.0], [-2.0, -1.0, -2.0, -1.0]]
    assert not max_last_pool(states, torch.tensor([0, 0])).any()


def test_pooled_backward_half_has_read_the_whole_sentence():
    """Eq. 4–6: the backward "last" state has read every token, so changing the first token
    of a 5-token sentence changes it (the backward output at the last position had read only
    the last token). And the forward half has read every token too."""
    torch.manual_seed(0)
    layer = BiLSTM(3, 4)
    inputs = torch.randn(1, 7, 3)
    lengths = torch.tensor([5])
    changed_first, changed_last = inputs.clone(), inputs.clone()
    changed_first[0, 0] += 1.0
    changed_last[0, 4] += 1.0
    with torch.no_grad():
        pooled = max_last_pool(layer(inputs, lengths), lengths)[0]
        first = max_last_pool(layer(changed_first, lengths), lengths)[0]
        last = max_last_pool(layer(changed_last, lengths), lengths)[0]
    hidden = 4
    forward_last, backward_last = slice(2 * hidden, 3 * hidden), slice(3 * hidden, 4 * hidden)
    assert not torch.allclose(pooled[backward_last], first[backward_last])
    assert not torch.allclose(pooled[forward_last], first[forward_last])
    assert not torch.allclose(pooled[backward_last], last[backward_last])
    # padding after the real tokens never matters
    padded = inputs.clone()
    padded[0, 5:] = 100.0
    with torch.no_grad():
        torch.testing.assert_close(max_last_pool(layer(padded, lengths), lengths)[0], pooled)


def test_imn_composition_reads_the_enhanced_features_directly(featurizer, examples):
    """Original IMN: the composition BiLSTM reads [x; x̃; x − x̃; x ⊙ x̃] (4·2h) itself, with no
    projection layer in between; ``enhancement_projection=True`` is the ESIM-style option."""
    ranker = _ranker("imn", featurizer, "ra", ("self",))
    imn = ranker.backbone
    assert imn.compose.lstm.input_size == 4 * imn.sentences.state_dim
    assert not any(isinstance(m, EnhancedProjection) for m in imn.modules())
    batch = featurizer(examples[:1])
    seen = []
    hook = imn.compose.register_forward_hook(lambda _, inputs, __: seen.append(inputs[0]))
    with torch.no_grad():
        ranker(batch)
        hook.remove()
        # The response side's input gates of the composition BiLSTM: (C · Lr, 2, 4h). Brute
        # force for one candidate: x = its word states, x̃ = attention over the context words,
        # and the LSTM's own input projection of [x; x̃; x − x̃; x ⊙ x̃].
        responses = seen[1].unflatten(0, (batch.responses.word_ids.shape[1], -1))
        words = imn.sentences.states(batch.context)[0]  # (U, Lu, H)
        context = words[batch.context.word_ids[0] > 0]  # real words, in order
        x = imn.sentences.states(batch.responses)[0, 3, : batch.responses.lengths[0, 3]]
        aligned = torch.softmax(x @ context.T, dim=-1) @ context
        expected = torch.cat([x, aligned, x - aligned, x * aligned], dim=-1)
        lstm = imn.compose.lstm
        forward = expected @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + lstm.bias_hh_l0
        backward = (
            expected @ lstm.weight_ih_l0_reverse.T
            + lstm.bias_ih_l0_reverse
            + lstm.bias_hh_l0_reverse
        )
        torch.testing.assert_close(
            responses[3, : len(x)], torch.stack([forward, backward], 1), rtol=1e-4, atol=1e-5
        )
    projected = _ranker("imn", featurizer, "ra", ("self",), enhancement_projection=True)
    assert projected.backbone.compose.lstm.input_size == 8


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
    matching=("concat",),
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
    return PersonaRanker(backbone, fusion, personas, mlp_hidden=8, matching=matching).eval()


VARIANTS = {
    "paper": ({}, ("concat",)),
    "all-matching": ({}, tuple(MATCHING.names())),
    "imn-matched": ({"fusion_response": "matched"}, ("concat",)),
    "imn-projected": ({"enhancement_projection": True}, ("concat",)),
}


BACKBONE_VARIANTS = [
    (name, variant)
    for name in VECTOR_BACKBONES
    for variant in VARIANTS
    if not variant.startswith("imn-") or name == "imn"
]


@pytest.mark.parametrize("fusion", VECTOR_FUSIONS)
@pytest.mark.parametrize(("name", "variant"), BACKBONE_VARIANTS)
def test_batched_scores_equal_per_candidate_reference(name, fusion, variant, featurizer, examples):
    backbone_args, matching = VARIANTS[variant]
    ranker = _ranker(name, featurizer, fusion, matching=matching, **backbone_args)
    batch_examples = examples[:4]
    with torch.no_grad():
        scores = ranker(featurizer(batch_examples))
        assert scores.shape == (4, 20)
        for b, example in enumerate(batch_examples):
            for c in (0, 7, 19):
                single = dataclasses.replace(example, candidates=(example.candidates[c],), label=0)
                alone = ranker(featurizer([single]))
                torch.testing.assert_close(alone[0, 0], scores[b, c], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", VECTOR_BACKBONES)
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


@pytest.mark.parametrize("name", VECTOR_BACKBONES)
def test_utterance_attention_attends_over_real_utterances_with_the_fusion_response(
    name, featurizer, examples
):
    """ũ = softmax_i(ū_iᵀ r̄) ū over the real utterances; ū is the sentence encoder's output."""
    batch = featurizer(examples[:3])
    ranker = _ranker(name, featurizer, "ra", (), matching=("concat", "utterance_attention"))
    plain = _ranker(name, featurizer, "ra", ())
    dim = ranker.backbone.output_dim
    assert ranker.scorer[1].in_features == plain.scorer[1].in_features + dim
    with torch.no_grad():
        encoded = ranker.backbone(batch, ())
        vectors, mask = encoded.utterances
        torch.testing.assert_close(vectors, ranker.backbone.sentences(batch.context))
        assert mask.equal(batch.context.mask)
        responses = encoded.fusion_responses if name == "imn" else encoded.responses
        # The scorer's input is [ĉ; r̄; ũ ⊙ r̄]: read the ũ ⊙ r̄ block the ranker really feeds.
        seen = []
        hook = ranker.scorer[1].register_forward_hook(lambda _, inputs, __: seen.append(inputs[0]))
        assert ranker(batch).shape == (3, 20)
        hook.remove()
        fed = seen[0][..., -dim:]
        for b in range(3):
            real = vectors[b, mask[b]]  # brute force: only the real utterances take part
            for c in (0, 19):
                weights = torch.softmax(real @ responses[b, c], dim=0)
                torch.testing.assert_close(fed[b, c], (weights @ real) * responses[b, c])


def test_matching_features_declare_their_widths(featurizer, examples):
    for personas in ((), ("self",), ("self", "partner")):
        for name in MATCHING.names():
            ranker = _ranker("hre", featurizer, "ra", personas, matching=(name,))
            (feature,) = ranker.matching
            assert ranker.scorer[1].in_features == feature.width
            seen: list[torch.Tensor] = []
            ranker.scorer[1].register_forward_hook(lambda _, i, __, seen=seen: seen.append(i[0]))
            with torch.no_grad():
                ranker(featurizer(examples[:2]))
            assert seen[0].shape == (2, 20, feature.width)
    dim = ranker.backbone.output_dim
    paper = _ranker("hre", featurizer, "ra", ("self", "partner"))
    assert paper.scorer[1].in_features == 4 * dim  # Eq. 17: [ĉ; p̂_self; p̂_partner; r̄]


def test_utterance_attention_needs_a_backbone_that_gives_utterances(featurizer, examples):
    ranker = _ranker("hre", featurizer, "ra", (), matching=("utterance_attention",))
    forward = ranker.backbone.forward
    ranker.backbone.forward = lambda *args: dataclasses.replace(forward(*args), utterances=None)
    with pytest.raises(ValueError, match="utterance_attention matching feature needs utterance"):
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


def test_model_yamls_and_the_backbone_registry_agree():
    names = {
        path.stem: compose_config(overrides=[f"model={path.stem}"]).model.name
        for path in (CONFIG_DIR / "model").glob("*.yaml")
    }
    assert all(stem == name for stem, name in names.items())
    assert sorted(names) == BACKBONES.names()


def test_persona_contexts_are_cut_with_the_profile_word_limit(featurizer, examples):
    """Persona-only ranking (Table 2): the persona sentences that replace the context keep
    max_profile_words (15) words, not max_utterance_words (20)."""
    long_sentence = " ".join(f"w{i}" for i in range(18))
    persona_context = dataclasses.replace(
        examples[0], context=(long_sentence,), context_is_persona=True
    )
    dialogue = dataclasses.replace(persona_context, context_is_persona=False)
    small = RnnFeaturizer(max_utterance_words=20, max_profile_words=15).fit([persona_context])
    assert small([persona_context]).context.lengths[0, 0] == 15
    assert small([dialogue]).context.lengths[0, 0] == 18
    mixed = small([persona_context, dialogue])
    assert mixed.context.lengths[:, 0].tolist() == [15, 18]


def test_real_fixture_turns_featurize(featurizer):
    real = read_personachat(RAW / "test_both_original.txt")
    batch = RnnFeaturizer().fit(real)(real)
    assert batch.responses.word_ids.shape[:2] == (5, 20)
    assert batch.context.lengths[4, :9].gt(0).all()  # the fifth turn has 9 context utterances


@pytest.mark.parametrize("name", VECTOR_BACKBONES)
def test_each_distinct_sentence_of_an_evaluation_batch_is_encoded_once(name, featurizer, examples):
    """Consecutive turns of a dialogue share personas and utterances, and a turn's true
    response is an utterance of the next context: in evaluation those are encoded once, with
    the scores of encoding every copy (and training keeps every copy, for its dropout)."""
    ranker = _ranker(name, featurizer, "ra", ("self", "partner"))
    encoder = ranker.backbone.sentences
    batch = featurizer(examples[:16])  # file order: whole dialogues
    encoded = []
    original = encoder.states
    encoder.states = lambda tokens: encoded.append(tokens.lengths.numel()) or original(tokens)
    with torch.no_grad():
        shared = ranker(batch)
        distinct = encoded[-1]
        encoder.deduplicate = False
        separate = ranker(batch)
    every = sum(t.lengths.numel() for t in (batch.context, batch.responses, batch.self_persona,
                                             batch.partner_persona))  # fmt: skip
    assert sum(encoded[1:]) == every and distinct < 0.8 * every
    torch.testing.assert_close(shared, separate, rtol=0, atol=1e-5)
    encoder.deduplicate = True
    ranker.train()
    encoded.clear()
    ranker(batch)
    assert sum(encoded) == every
