"""The Lightning data module: splits, persona, candidate shuffling, (B, C, ...) batches."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
import torch

from personafuse.data import (
    PersonaChatFiles,
    PersonaChatFormatError,
    RankingDataModule,
    TextBatch,
    read_personachat,
    shuffle_candidates,
)

from .conftest import RAW


def _module(corpus, **kwargs) -> RankingDataModule:
    options = {
        "persona": "self",
        "train_batch_size": 4,
        "eval_batch_size": 8,
        "candidate_seed": 5,
        **kwargs,
    }
    return RankingDataModule(PersonaChatFiles(corpus, "original"), **options)


def test_shuffle_hides_the_true_position_and_is_reproducible(tiny_corpus):
    examples = read_personachat(tiny_corpus / "valid_both_original.txt")
    shuffled = shuffle_candidates(examples, seed=5, split="valid")
    assert shuffled == shuffle_candidates(examples, seed=5, split="valid")
    assert shuffled != shuffle_candidates(examples, seed=6, split="valid")
    positions = Counter(e.label for e in shuffled)
    assert len(positions) >= 15  # the true response is no longer always last
    for before, after in zip(examples, shuffled, strict=True):
        assert after.candidates[after.label] == before.response
        assert sorted(after.candidates) == sorted(before.candidates)
        assert [before.candidates[i] for i in after.candidate_ids] == list(after.candidates)


def test_text_batches_and_batch_sizes(tiny_corpus):
    datamodule = _module(tiny_corpus)
    datamodule.prepare_data()
    datamodule.setup("fit")
    assert set(datamodule.examples) == {"train", "valid"}
    batch = next(iter(datamodule.train_dataloader()))
    assert isinstance(batch, TextBatch) and len(batch) == 4
    assert batch.labels.shape == (4,)
    assert all(e.self_persona and not e.partner_persona for e in batch.examples)
    assert len(next(iter(datamodule.val_dataloader()))) == 8
    assert datamodule.num_candidates == 20
    datamodule.setup("test")
    total = sum(len(b) for b in datamodule.test_dataloader())
    assert total == len(read_personachat(tiny_corpus / "test_both_original.txt"))


class HashingFeaturizer:
    """A model-side featurizer: word ids hashed into 1000 buckets, padded to the longest."""

    def __call__(self, examples):
        longest = max(len(c.split()) for e in examples for c in e.candidates)
        ids = torch.zeros(len(examples), len(examples[0].candidates), longest, dtype=torch.long)
        for b, example in enumerate(examples):
            for c, candidate in enumerate(example.candidates):
                words = [hash(w) % 999 + 1 for w in candidate.split()]
                ids[b, c, : len(words)] = torch.tensor(words)
        return {"candidate_ids": ids, "labels": torch.tensor([e.label for e in examples])}


def test_model_featurizer_gives_contexts_by_candidates_layout(tiny_corpus):
    datamodule = _module(tiny_corpus, persona="both", featurizer=HashingFeaturizer())
    batch = next(iter(datamodule.val_dataloader()))
    batch_size, candidates, length = batch["candidate_ids"].shape
    assert (batch_size, candidates) == (8, 20) and length > 3
    assert batch["labels"].shape == (8,)


def test_unequal_candidate_counts_are_rejected(tmp_path):
    examples = read_personachat(RAW / "valid_both_original.txt")
    lines = (RAW / "valid_both_original.txt").read_text().splitlines()
    last = lines[-1].rsplit("|", 1)  # drop one negative from the last turn: 19 candidates
    lines[-1] = last[0].rsplit("|", 1)[0] + "|" + last[1]
    (tmp_path / "valid_both_original.txt").write_text("\n".join(lines) + "\n")
    datamodule = _module(tmp_path)
    with pytest.raises(
        PersonaChatFormatError,
        match=rf"valid_both_original.txt, line {len(lines)}: turn has 19 candidates; Persona",
    ):
        datamodule.load_split("valid")
    assert dataclasses.replace(examples[0]).num_candidates == 20


def test_a_resumable_loader_skips_only_inside_the_epoch_it_was_saved_in():
    from personafuse.data.sampling import EpochShuffleSampler, ResumableLoader

    class Indices(torch.utils.data.Dataset):  # what the sampler asks for: (index, epoch)
        def __len__(self):
            return 10

        def __getitem__(self, key):
            return key[0]

    def loader():
        sampler = EpochShuffleSampler(10, seed=3)
        return ResumableLoader(Indices(), batch_size=2, sampler=sampler, collate_fn=list)

    full = loader()
    full.sampler.set_epoch(1)
    epoch_1 = list(full)
    saved = None
    running = loader()
    running.sampler.set_epoch(1)
    for i, _ in enumerate(running):
        if i == 1:
            saved = running.state_dict()  # after two batches of epoch 1
            break
    assert saved == {"epoch": 1, "batches": 2}
    resumed = loader()
    resumed.load_state_dict(saved)
    resumed.sampler.set_epoch(1)
    assert list(resumed) == epoch_1[2:]
    assert list(resumed) == epoch_1  # the skip happens once
    at_epoch_end = loader()
    at_epoch_end.load_state_dict({"epoch": 1, "batches": 5})
    at_epoch_end.sampler.set_epoch(2)  # saved at the end of epoch 1: epoch 2 starts whole
    assert len(list(at_epoch_end)) == 5


def test_shards_cover_every_context_once_and_interleave_back():
    from personafuse.data.sampling import EpochShuffleSampler, ShardSampler, interleave_shards

    for size, processes in ((7, 2), (7, 3), (2, 3), (12, 4)):
        shards = [list(ShardSampler(size, processes, rank)) for rank in range(processes)]
        assert sorted(i for shard in shards for i in shard) == list(range(size))
        assert interleave_shards(shards) == list(range(size))
    one = [i for i, _ in EpochShuffleSampler(9, seed=1)]
    two = [[i for i, _ in EpochShuffleSampler(9, seed=1, num_replicas=2, rank=r)] for r in (0, 1)]
    assert len(two[0]) == len(two[1]) == 4  # cut to a multiple of the processes
    assert [x for pair in zip(*two, strict=True) for x in pair] == one[:8]
