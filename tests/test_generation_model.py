"""The UniLM seq2seq mask, the Transformer run on a Hugging Face BERT's layers, and cached
decoding against recomputing the whole sequence at every step."""

from __future__ import annotations

import itertools

import pytest
import torch
from transformers import BertConfig, BertModel

from personafuse.generation import DecodingConfig, Seq2SeqBert, decode, seq2seq_mask

VOCAB, END = 40, 3


def _model(seed: int = 0) -> Seq2SeqBert:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=128,
    )  # fmt: skip
    model = Seq2SeqBert(BertModel(config, add_pooling_layer=False)).eval()
    with torch.no_grad():  # a random model: make the end token come up now and then
        model.output_bias.normal_(0, 1)
    return model


def _packed(source_lengths, target_lengths, seed=1):
    generator = torch.Generator().manual_seed(seed)
    width = max(s + t for s, t in zip(source_lengths, target_lengths, strict=True))
    ids = torch.randint(5, VOCAB, (len(source_lengths), width), generator=generator)
    sources = torch.tensor(source_lengths)
    targets = torch.tensor(target_lengths)
    positions = torch.arange(width).expand(len(sources), -1)
    types = (positions >= sources[:, None]).long()
    return ids, types, positions, seq2seq_mask(sources, targets, width)


def test_mask_rows():
    mask = seq2seq_mask(torch.tensor([2]), torch.tensor([3]), 6)[0].int().tolist()
    assert mask == [
        [1, 1, 0, 0, 0, 0],  # source sees the source only
        [1, 1, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0],  # each target token: the source and the target up to itself
        [1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 0],
        [1, 1, 0, 0, 0, 0],  # padding attends to the source (no empty softmax row)
    ]


def test_same_hidden_states_as_hugging_face_bert_without_a_mask():
    model = _model()
    ids, types, positions, _ = _packed([7], [0])
    full = torch.ones(1, 7, 7, dtype=torch.bool)
    ours, _ = model(ids, types, positions, full)
    theirs = model.bert(input_ids=ids, token_type_ids=types).last_hidden_state
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


def test_later_target_tokens_never_change_earlier_positions():
    model = _model()
    ids, types, positions, mask = _packed([5, 4], [4, 4])
    before, _ = model(ids, types, positions, mask)
    changed = ids.clone()
    changed[0, 7] = (changed[0, 7] + 1) % VOCAB  # the 3rd target token of row 0
    after, _ = model(changed, types, positions, mask)
    torch.testing.assert_close(after[0, :7], before[0, :7])  # source and earlier targets
    assert not torch.allclose(after[0, 7:9], before[0, 7:9])
    torch.testing.assert_close(after[1], before[1])


def test_every_source_position_sees_every_other():
    model = _model()
    ids, types, positions, mask = _packed([5], [3])
    before, _ = model(ids, types, positions, mask)
    for index in range(5):
        changed = ids.clone()
        changed[0, index] = (changed[0, index] + 1) % VOCAB
        after, _ = model(changed, types, positions, mask)
        moved = (after[0] - before[0]).abs().amax(-1) > 1e-6
        assert moved[:8].all()  # every source and target position reads every source token


def _sources():
    generator = torch.Generator().manual_seed(3)
    ids = torch.randint(5, VOCAB, (3, 9), generator=generator)
    ids[:, 0] = 1
    lengths = torch.tensor([9, 6, 4])
    for row, length in enumerate(lengths):
        ids[row, length - 1] = 2  # [SEP]
        ids[row, length:] = 0  # padding
    return ids, lengths


@pytest.mark.parametrize(
    "config",
    [
        DecodingConfig("greedy", max_length=12),
        DecodingConfig("greedy", max_length=12, min_length=5, no_repeat_ngram=2),
        DecodingConfig("beam", max_length=10, beam_size=3),
        DecodingConfig("beam", max_length=10, beam_size=4, length_penalty=0.6, no_repeat_ngram=2),
        DecodingConfig("sample", max_length=12, top_p=0.8, seed=5),
    ],
    ids=["greedy", "greedy-min-norepeat", "beam3", "beam4-lp-norepeat", "nucleus"],
)
def test_cached_decoding_equals_recomputing_every_step(config):
    model = _model()
    ids, lengths = _sources()
    cached = decode(model, ids, lengths, END, config)
    config.use_cache = False
    recomputed = decode(model, ids, lengths, END, config)
    assert cached == recomputed
    assert any(len(tokens) > 1 for tokens in cached)


def test_each_source_decodes_as_it_would_alone():
    model = _model()
    ids, lengths = _sources()
    batched = decode(model, ids, lengths, END, DecodingConfig("greedy", max_length=12))
    for row in range(len(ids)):
        alone = decode(model, ids[row : row + 1, : lengths[row]], lengths[row : row + 1], END,
                       DecodingConfig("greedy", max_length=12))  # fmt: skip
        assert alone[0] == batched[row]


def test_min_length_and_no_repeat_ngram():
    model = _model()
    ids, lengths = _sources()
    config = DecodingConfig("greedy", max_length=15, min_length=8, no_repeat_ngram=2)
    for tokens in decode(model, ids, lengths, END, config):
        assert len(tokens) >= 7  # the end token may come as the 8th at the earliest
        bigrams = list(itertools.pairwise(tokens))
        assert len(bigrams) == len(set(bigrams))


def test_bad_decoding_settings_name_the_key():
    with pytest.raises(ValueError, match=r"decoding.strategy=.topk.; valid choices: greedy"):
        DecodingConfig("topk")
    with pytest.raises(ValueError, match="min_length=5, max_length=3"):
        DecodingConfig(min_length=5, max_length=3)


def _generator(model):
    """A UnilmGenerator around ``model`` (the end token is the featurizer's [SEP])."""
    from types import SimpleNamespace

    from personafuse.backbones.unilm import UnilmGenerator

    return UnilmGenerator(model, SimpleNamespace(special_ids={"sep": END})).eval()


def _batch(source_lengths, target_lengths, seed=2):
    """A Seq2SeqBatch of random tokens: sources ending in [SEP]-like tokens, targets ending
    in END, labels predicting each target token from the position before it."""
    from personafuse.features.seq2seq import IGNORE, Seq2SeqBatch

    ids, types, positions, mask = _packed(source_lengths, target_lengths, seed)
    labels = torch.full_like(ids, IGNORE)
    sources = torch.zeros(len(ids), max(source_lengths), dtype=torch.long)
    for row, (source, target) in enumerate(zip(source_lengths, target_lengths, strict=True)):
        ids[row, source + target - 1] = END
        labels[row, source - 1 : source + target - 1] = ids[row, source : source + target]
        sources[row, :source] = ids[row, :source]
    texts = ["r"] * len(ids)
    return Seq2SeqBatch(ids, types, positions.clone(), mask, labels, sources,
                        torch.tensor(source_lengths), texts, texts)  # fmt: skip


@pytest.mark.parametrize("rows", [None, [7, 0, 3], []], ids=["all", "some", "none"])
@pytest.mark.parametrize(
    "config",
    [
        DecodingConfig("greedy", max_length=12, no_repeat_ngram=2),
        DecodingConfig("beam", max_length=10, beam_size=3),
        DecodingConfig("sample", max_length=12, top_p=0.8, seed=5),
        DecodingConfig("greedy", max_length=12, use_cache=False),
    ],
    ids=["greedy", "beam", "nucleus", "greedy-uncached"],
)
def test_one_pass_evaluation_equals_the_loss_then_decoding(config, rows):
    """UnilmGenerator.evaluate: the teacher-forced pass in length-sorted chunks (more rows
    than a chunk, lengths that differ) primes decoding with its source keys and values."""
    from personafuse.backbones.unilm import EVALUATION_CHUNK

    generator = _generator(_model())
    sources = [5, 9, 3, 12, 7, 4, 10, 6, 8, 3, 11]
    targets = [4, 2, 6, 3, 5, 2, 4, 7, 3, 5, 2]
    assert len(sources) > EVALUATION_CHUNK
    batch = _batch(sources, targets)
    _, nll, tokens = generator.loss(batch)
    one_nll, one_tokens, generated = generator.evaluate(batch, config, rows)
    assert one_tokens == tokens == sum(targets)
    assert float(one_nll) == pytest.approx(float(nll), rel=1e-5)
    # A sampled response depends on the rows beside it (one random stream per batch).
    index = torch.arange(len(sources)) if rows is None else torch.tensor(rows, dtype=torch.long)
    expected = decode(generator.model, batch.source_ids[index], batch.source_lengths[index], END,
                      config)  # fmt: skip
    assert generated == expected
    if rows is None:
        assert generated == generator.generate(batch, config)


def test_decoding_drops_finished_rows_without_changing_the_others():
    """Greedy rows that end leave the batch: every row decodes as it would alone, with rows
    that end early beside rows that run to max_length."""
    model = _model()
    with torch.no_grad():
        model.output_bias[END] += 1.5  # some rows end, others run to max_length
    batch = _batch([5, 9, 3, 12, 7, 4, 10, 6, 8, 3, 11], [4, 2, 6, 3, 5, 2, 4, 7, 3, 5, 2])
    ids, lengths = batch.source_ids, batch.source_lengths
    config = DecodingConfig("greedy", max_length=20, no_repeat_ngram=2)
    batched = decode(model, ids, lengths, END, config)
    assert min(map(len, batched)) < max(map(len, batched)) == 20
    for row in range(len(ids)):
        alone = decode(model, ids[row : row + 1, : lengths[row]], lengths[row : row + 1], END,
                       config)  # fmt: skip
        assert alone[0] == batched[row]
