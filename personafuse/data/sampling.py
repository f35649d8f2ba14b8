"""Training order that is a function of (seed, epoch) only, and a loader that can resume in
the middle of an epoch: together they make a killed run continue with the very batch it would
have trained on next."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Sampler

__all__ = ["EpochShuffleSampler", "ResumableLoader", "ShardSampler", "interleave_shards"]


class EpochShuffleSampler(Sampler):
    """Seeded shuffle that hands ``(index, epoch)`` to the dataset.

    Lightning calls :meth:`set_epoch` before every training epoch, so a dataset can vary what
    it returns per epoch (dynamic negatives) while staying reproducible from the seed, also
    with worker processes. ``start`` skips the first positions of the epoch's order once (a
    resumed epoch).

    Across ``num_replicas`` processes, process ``rank`` takes every ``num_replicas``-th
    position of the same order, starting at ``rank``: with a per-process batch of b, the
    processes' i-th batches together are exactly the i-th batch of size ``num_replicas``·b of
    one process. The order is cut to a multiple of ``num_replicas`` so that every process runs
    the same number of steps (at most ``num_replicas`` − 1 contexts sit out an epoch; the
    order changes every epoch).
    """

    def __init__(self, size: int, seed: int = 0, num_replicas: int = 1, rank: int = 0):
        self.size = size
        self.seed = seed
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size // self.num_replicas

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        order = order[: len(self) * self.num_replicas][self.rank :: self.num_replicas]
        start, self.start = self.start, 0
        for index in order[start:]:
            yield index, self.epoch


class ShardSampler(Sampler):
    """Evaluation across processes without padding: process ``rank`` takes the indices
    ``rank, rank + num_replicas, …`` in order, so every context is scored exactly once (shards
    differ in size by at most one). :func:`interleave_shards` puts the results back in order.
    """

    def __init__(self, size: int, num_replicas: int, rank: int):
        self.indices = list(range(rank, size, num_replicas))

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self):
        return iter(self.indices)


def interleave_shards(shards: list[list]) -> list:
    """Per-context outputs of the :class:`ShardSampler` shards of every rank (``shards[r]``
    from rank r: contexts r, r + R, …), back in dataset order."""
    ordered = []
    for index in range(max((len(shard) for shard in shards), default=0)):
        ordered += [shard[index] for shard in shards if index < len(shard)]
    return ordered


class ResumableLoader(DataLoader):
    """A training DataLoader over an :class:`EpochShuffleSampler` whose state is how many
    batches of the current epoch it has handed out.

    Lightning saves a loader's ``state_dict`` in every checkpoint and calls
    ``load_state_dict`` before iterating again when a run resumes; the loader then skips the
    batches the killed run had already trained on. (Lightning does not prefetch from loaders
    with a length, so the count is exactly the batches trained on.)
    """

    def __init__(self, dataset, sampler: EpochShuffleSampler, **kwargs):
        super().__init__(dataset, sampler=sampler, **kwargs)
        self.epochs = sampler  # the sampler, typed: its epoch and start
        self.served = 0
        self._resume: tuple[int, int] | None = None  # (epoch, batches already trained on)

    def __iter__(self):
        resume, self._resume = self._resume, None
        # Skip only inside the epoch the checkpoint was saved in: a checkpoint saved at the end
        # of an epoch resumes the next epoch from its first batch.
        self.served = resume[1] if resume and resume[0] == self.epochs.epoch else 0
        self.epochs.start = self.served * (self.batch_size or 1)
        for batch in super().__iter__():
            self.served += 1
            yield batch

    def state_dict(self) -> dict:
        return {"epoch": self.epochs.epoch, "batches": self.served}

    def load_state_dict(self, state: dict) -> None:
        self._resume = (int(state["epoch"]), int(state["batches"]))
