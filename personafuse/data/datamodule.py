"""LightningDataModule: splits from a dataset and a persona choice, candidates shuffled once."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from personafuse.data.parlai import NUM_CANDIDATES, PersonaChatFormatError, read_personachat
from personafuse.data.persona import select_persona
from personafuse.data.sampling import EpochShuffleSampler, ResumableLoader, ShardSampler
from personafuse.data.schema import RankingExample, TextBatch
from personafuse.data.sources import SPLITS, PersonaChatFiles

__all__ = [
    "EpochShuffleSampler",
    "ExampleDataset",
    "NegativeSamplingDataset",
    "RankingDataModule",
    "shuffle_candidates",
]

Featurizer = Callable[[list[RankingExample]], Any]


class ExampleDataset(Dataset):
    """A list of examples as a map-style dataset."""

    def __init__(self, examples: Sequence[RankingExample]):
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, key: int | tuple[int, int]) -> RankingExample:
        # Training samplers hand (index, epoch); the same example in every epoch.
        return self.examples[key[0] if isinstance(key, tuple) else key]


class NegativeSamplingDataset(Dataset):
    """Each training context with its true response and ``negatives`` of its other candidates.

    The negatives change every epoch (BERT's dynamic negative sampling, SPEC §4.3): context i
    walks through a fixed seeded permutation of its negatives, ``negatives`` at a time, so
    consecutive epochs never repeat a negative until all have been used. The true response
    takes a random position among the kept candidates.

    Args:
        examples: Examples with candidates and a label.
        negatives: Negatives kept per context and epoch.
        seed: Seed of the permutations.
    """

    def __init__(self, examples: Sequence[RankingExample], negatives: int = 1, seed: int = 0):
        if negatives < 1:
            raise ValueError(f"datamodule.train_negatives={negatives}; it must be at least 1")
        self.examples = examples
        self.negatives = negatives
        self.seed = seed

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, key: tuple[int, int]) -> RankingExample:
        index, epoch = key
        example = self.examples[index]
        label = _label(example)
        rng = random.Random(f"personafuse-negatives:{self.seed}:{index}")
        others = [i for i in range(example.num_candidates) if i != label]
        rng.shuffle(others)
        count = min(self.negatives, len(others))
        start = epoch * count
        chosen = [others[(start + j) % len(others)] for j in range(count)]
        position = random.Random(f"personafuse-position:{self.seed}:{index}:{epoch}").randint(
            0, count
        )
        chosen.insert(position, label)
        return dataclasses.replace(
            example,
            candidates=tuple(example.candidates[i] for i in chosen),
            candidate_ids=tuple(example.candidate_ids[i] for i in chosen),
            label=position,
        )


def _label(example: RankingExample) -> int:
    """The true candidate's index of a turn that has candidates."""
    if example.label is None:
        raise ValueError(f"dialogue {example.dialogue_id}, turn {example.turn}: no candidates")
    return example.label


def shuffle_candidates(
    examples: Sequence[RankingExample], seed: int, split: str
) -> list[RankingExample]:
    """Permute each example's candidates so the true one's file position cannot leak.

    The permutation depends only on ``seed``, ``split`` and the example's position, so a run
    is reproducible from the recorded seed; ``candidate_ids`` keeps the file positions.
    """
    rng = random.Random(f"personafuse-candidates:{seed}:{split}")
    shuffled = []
    for example in examples:
        order = list(range(example.num_candidates))
        rng.shuffle(order)
        shuffled.append(
            dataclasses.replace(
                example,
                candidates=tuple(example.candidates[i] for i in order),
                candidate_ids=tuple(example.candidate_ids[i] for i in order),
                label=order.index(_label(example)),
            )
        )
    return shuffled


class RankingDataModule(L.LightningDataModule):
    """Train/valid/test examples for response ranking, batched as contexts x candidates.

    Data knows nothing of models: a model plugs in its ``featurizer`` (examples -> batch of
    tensors, e.g. word ids or wordpieces); without one a batch is a :class:`TextBatch`.

    Args:
        dataset: Where the split files are (:class:`PersonaChatFiles` or the synthetic corpus).
        persona: ``none``, ``self``, ``partner`` or ``both``.
        train_batch_size: Contexts per training batch (each with all its candidates).
        eval_batch_size: Contexts per validation/test batch.
        candidate_seed: Seed of the candidate shuffle, recorded with every run.
        num_workers: DataLoader worker processes.
        featurizer: Collate function from a list of examples to a model batch.
        persona_as_context: Persona-only ranking (the paper's Table 2): the chosen persona's
            sentences take the place of the dialogue context.
        train_negatives: None trains on all candidates of a context (HRE/IMN's listwise
            loss); k trains on the true response and k negatives that change every epoch
            (BERT's dynamic negative sampling, k = 1).
        num_candidates: Candidates every turn of the split files must have (Persona-Chat: 20);
            a file with another number is refused with its file and line.
    """

    def __init__(
        self,
        dataset: PersonaChatFiles,
        persona: str = "self",
        train_batch_size: int = 16,
        eval_batch_size: int = 64,
        candidate_seed: int = 0,
        num_workers: int = 0,
        featurizer: Featurizer | None = None,
        persona_as_context: bool = False,
        train_negatives: int | None = None,
        num_candidates: int = NUM_CANDIDATES,
    ):
        super().__init__()
        self.num_candidates = num_candidates
        self.train_negatives = train_negatives
        self.dataset = dataset
        self.persona = persona
        self.train_batch_size = train_batch_size
        self.eval_batch_size = eval_batch_size
        self.candidate_seed = candidate_seed
        self.num_workers = num_workers
        self.featurizer = featurizer
        if persona_as_context and persona == "none":
            raise ValueError(
                "persona.as_context=true needs a persona: persona=self, partner or both"
            )
        self.persona_as_context = persona_as_context
        self.examples: dict[str, list[RankingExample]] = {}

    def prepare_data(self) -> None:
        self.dataset.prepare()

    def load_split(self, split: str) -> list[RankingExample]:
        """Read, select the persona of, check and shuffle one split (cached)."""
        if split not in self.examples:
            path = self.dataset.split_path(split, self.persona)
            examples = select_persona(read_personachat(path, self.num_candidates), self.persona)
            if self.persona_as_context:
                examples = [
                    dataclasses.replace(
                        e,
                        context=(*e.self_persona, *e.partner_persona),
                        self_persona=(),
                        partner_persona=(),
                        context_is_persona=True,
                    )
                    for e in examples
                ]
            # The reader holds every turn of a file with candidates to the same count.
            if examples and not examples[0].candidates:
                raise PersonaChatFormatError(
                    path, 1, "the turns have no candidates; *_no_cands files cannot be ranked"
                )
            self.examples[split] = shuffle_candidates(examples, self.candidate_seed, split)
        return self.examples[split]

    def setup(self, stage: str | None = None) -> None:
        needed = {"fit": ("train", "valid"), "validate": ("valid",), "test": ("test",)}
        for split in needed.get(stage or "", SPLITS):
            self.load_split(split)

    def collate(self, examples: list[RankingExample]) -> Any:
        return (self.featurizer or TextBatch.collate)(examples)

    def _loader(
        self, dataset: Dataset, batch_size: int, loader: type[DataLoader] = DataLoader, **sampling
    ) -> DataLoader:
        return loader(
            dataset,
            batch_size=batch_size,
            # Its own generator: iterating a loader never draws from the global RNG, so a
            # resumed run's dropout masks are those of the uninterrupted run.
            generator=torch.Generator().manual_seed(self.candidate_seed),
            collate_fn=self.collate,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            **sampling,
        )

    def _replicas(self) -> tuple[int, int]:
        """(processes, this process's rank) of the trainer the module is attached to."""
        trainer = getattr(self, "trainer", None)
        return (trainer.world_size, trainer.global_rank) if trainer is not None else (1, 0)

    def eval_dataloader(self, split: str) -> DataLoader:
        """Any split in file order, batched for evaluation (also used by ``evaluate``); across
        processes, each scores its own shard of the contexts, none twice."""
        examples = self.load_split(split)
        processes, rank = self._replicas()
        sampler = ShardSampler(len(examples), processes, rank) if processes > 1 else None
        return self._loader(ExampleDataset(examples), self.eval_batch_size, sampler=sampler)

    def train_dataloader(self) -> DataLoader:
        """Shuffled by (seed, epoch) only, and resumable mid-epoch (see :mod:`.sampling`)."""
        examples = self.load_split("train")
        dataset: Dataset
        if self.train_negatives is None:
            dataset = ExampleDataset(examples)
        else:
            dataset = NegativeSamplingDataset(examples, self.train_negatives, self.candidate_seed)
        processes, rank = self._replicas()
        return self._loader(
            dataset,
            self.train_batch_size,
            ResumableLoader,
            sampler=EpochShuffleSampler(len(examples), self.candidate_seed, processes, rank),
        )

    def val_dataloader(self) -> DataLoader:
        return self.eval_dataloader("valid")

    def test_dataloader(self) -> DataLoader:
        return self.eval_dataloader("test")
