"""Rank candidate replies with a trained HRE, IMN or BERT run, from Python.

    from personafuse import Ranker

    ranker = Ranker.from_checkpoint("runs/imn-ra/checkpoints/best.ckpt")
    ranker.rank(["hi , how are you ?"], ["i am fine .", "i like dogs ."],
                self_persona=["i have a dog ."])

The run's own config, vocabulary or tokenizer and weights are loaded; contexts are batched
like the evaluation loop (everything that does not depend on a candidate is computed once per
context), so the scores equal those of ``python -m personafuse.evaluate`` for the same inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from lightning.fabric.utilities.apply_func import move_data_to_device

from personafuse.data.schema import RankingExample

__all__ = ["RankedCandidate", "Ranker"]


@dataclass(frozen=True)
class RankedCandidate:
    """One candidate of a ranking: its text, score and position in the input list."""

    text: str
    score: float
    index: int


class Ranker:
    """A trained ranker with its featurizer. Build it with :meth:`from_checkpoint`."""

    def __init__(self, network, featurizer, personas: tuple[str, ...], batch_size: int = 32):
        self.network = network.eval()
        self.featurizer = featurizer
        self.personas = personas
        self.batch_size = batch_size

    @classmethod
    def from_checkpoint(cls, path, device: str = "auto") -> Ranker:
        """Load a verified ranking checkpoint (``RUN/checkpoints/best.ckpt``) with its run.

        Raises:
            CheckpointError: Not a usable checkpoint of this personafuse version.
            ValueError: A generation checkpoint (use ``ResponseGenerator``).
        """
        from personafuse.network import fused_personas, load_run

        cfg, featurizer, network, _ = load_run(path, device)
        if hasattr(network, "generate"):
            raise ValueError(f"{path}: a model={cfg.model.name} checkpoint generates; use "
                             "personafuse.generate.ResponseGenerator")  # fmt: skip
        personas = fused_personas(cfg.persona.name, bool(cfg.persona.as_context))
        return cls(network, featurizer, personas, int(cfg.model.eval_batch_size))

    def rank(
        self,
        context: Sequence[str],
        candidates: Sequence[str],
        self_persona: Sequence[str] | None = None,
        partner_persona: Sequence[str] | None = None,
        top_k: int | None = None,
    ) -> list[RankedCandidate]:
        """The candidates best first, with their scores and indices in ``candidates``.

        Args:
            context: The dialogue so far, oldest utterance first, the partner's last.
            candidates: Replies to rank.
            self_persona, partner_persona: Profile sentences, as the run was trained with.
            top_k: Keep only the best k.
        """
        scores = self.score([context], [candidates], [self_persona or ()],
                            [partner_persona or ()])[0]  # fmt: skip
        order = sorted(range(len(candidates)), key=lambda i: -scores[i])[:top_k]
        return [RankedCandidate(candidates[i], scores[i], i) for i in order]

    def score(
        self,
        contexts: Sequence[Sequence[str]],
        candidates: Sequence[Sequence[str]],
        self_personas: Sequence[Sequence[str]] | None = None,
        partner_personas: Sequence[Sequence[str]] | None = None,
    ) -> list[list[float]]:
        """Scores of every candidate of every context, batched like the evaluation loop
        (contexts with the same number of candidates share a batch).

        Raises:
            ValueError: An empty context or candidate list, lists of different lengths, or a
                persona the model was not trained with (it would be ignored).
        """
        count = len(contexts)
        self_personas = self_personas or [()] * count
        partner_personas = partner_personas or [()] * count
        if not len(candidates) == len(self_personas) == len(partner_personas) == count:
            raise ValueError(
                f"{count} contexts, {len(candidates)} candidate lists, {len(self_personas)} "
                f"self and {len(partner_personas)} partner personas: give one of each per context"
            )
        examples = [
            self._example(i, *row)
            for i, row in enumerate(zip(contexts, candidates, self_personas, partner_personas,
                                        strict=True))
        ]  # fmt: skip
        scores: list[list[float] | None] = [None] * count
        by_size: dict[int, list[int]] = {}
        for index, example in enumerate(examples):
            by_size.setdefault(len(example.candidates), []).append(index)
        device = next(self.network.parameters()).device
        with torch.no_grad():
            for indices in by_size.values():
                for start in range(0, len(indices), self.batch_size):
                    chunk = indices[start : start + self.batch_size]
                    batch = self.featurizer([examples[i] for i in chunk])
                    batch = move_data_to_device(batch, device)  # as Lightning moves it
                    rows = self.network(batch).float().cpu().tolist()
                    for i, row in zip(chunk, rows, strict=True):
                        scores[i] = row
        return scores  # type: ignore[return-value]

    def _example(self, index, context, candidates, self_persona, partner_persona):
        if not context or not any(u.strip() for u in context):
            raise ValueError(f"context {index} is empty: give at least one utterance")
        if not candidates:
            raise ValueError(f"context {index} has no candidates to rank")
        if isinstance(context, str) or isinstance(candidates, str):
            raise ValueError(f"context {index}: give lists of utterances and candidates, not "
                             "a single string")  # fmt: skip
        for name, given in (("self", self_persona), ("partner", partner_persona)):
            if given and name not in self.personas:
                trained = "+".join(self.personas) or "none"
                raise ValueError(
                    f"{name}_persona given, but this model was trained with persona={trained}: "
                    "it would not read it"
                )
        return RankingExample(
            dialogue_id=index, turn=0, context=tuple(context), self_persona=tuple(self_persona),
            partner_persona=tuple(partner_persona), candidates=tuple(candidates), label=0,
            response=candidates[0],
        )  # fmt: skip
