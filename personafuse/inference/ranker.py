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
from dataclasses import dataclass, replace

import numpy as np
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device

from personafuse.data.schema import RankingExample
from personafuse.inference.personas import check_personas

__all__ = ["RankedCandidate", "Ranker"]


@dataclass(frozen=True)
class RankedCandidate:
    """One candidate of a ranking: its text, score and position in the input list."""

    text: str
    score: float
    index: int


class Ranker:
    """A trained ranker with its featurizer. Build it with :meth:`from_checkpoint`.

    Any number of candidates can be ranked: a context's candidates are scored in passes of at
    most ``max_candidates`` (the context's own work is then repeated once per pass).

    Args:
        network: The scoring network (batch -> (B, C) scores).
        featurizer: Its fitted featurizer.
        personas: The personas the network reads.
        batch_size: Contexts per forward.
        identity: What names the model (checkpoint path and weights digest, model, fusion,
            persona): a response pool's index records it to refuse another model.
        config: The training run's config (its data, for ``index pool=train``), if any.
    """

    max_candidates = 256

    def __init__(
        self,
        network,
        featurizer,
        personas: tuple[str, ...],
        batch_size: int = 32,
        identity: dict | None = None,
        config=None,
    ):
        self.network = network.eval()
        self.featurizer = featurizer
        self.personas = personas
        self.batch_size = batch_size
        self.identity = dict(identity or {})
        self.config = config

    @classmethod
    def from_checkpoint(cls, path, device: str = "auto") -> Ranker:
        """Load a verified ranking checkpoint (``RUN/checkpoints/best.ckpt``) with its run.

        Raises:
            CheckpointError: Not a usable checkpoint of this personafuse version, or a
                generation checkpoint (use ``ResponseGenerator``).
        """
        from personafuse.runs.restore import restore_run

        run = restore_run(path, device=device)
        run.require_task("ranking", "personafuse.ResponseGenerator")
        return cls(run.network, run.featurizer, run.personas, int(run.cfg.model.eval_batch_size),
                   run.identity, run.cfg)  # fmt: skip

    def encode_pool(self, texts: Sequence[str], batch_size: int = 512) -> dict[str, np.ndarray]:
        """What of the model does not depend on the context, for every text of a response
        pool, to be stored and reused by every query (:mod:`personafuse.retrieval`).

        Returns:
            ``tokens.*``: the featurizer's ids of each text, packed end to end;
            ``response_vectors`` (N, D) float32, when the backbone's candidate vectors do
            not depend on the context (HRE's r̄).
        """
        arrays = {f"tokens.{k}": v for k, v in self.featurizer.token_arrays(texts).items()}
        encode = getattr(self.network, "encode_responses", None)
        if encode is None:
            return arrays
        device = next(self.network.parameters()).device
        chunks = []
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                tokens = self.featurizer.responses(texts[start : start + batch_size])
                vectors = encode(move_data_to_device(tokens, device))
                if vectors is None:
                    return arrays
                chunks.append(vectors[0].float().cpu().numpy())
        arrays["response_vectors"] = np.concatenate(chunks)
        return arrays

    def rank(
        self,
        context: Sequence[str],
        candidates: Sequence[str],
        self_persona: Sequence[str] | None = None,
        partner_persona: Sequence[str] | None = None,
        top_k: int | None = None,
        response_vectors: np.ndarray | torch.Tensor | None = None,
    ) -> list[RankedCandidate]:
        """The candidates best first, with their scores and indices in ``candidates``.

        Args:
            context: The dialogue so far, oldest utterance first, the partner's last.
            candidates: Replies to rank.
            self_persona, partner_persona: Profile sentences, as the run was trained with.
            top_k: Keep only the best k.
            response_vectors: (C, D) stored ``response_vectors`` of :meth:`encode_pool` for
                these candidates, used instead of encoding them.
        """
        if response_vectors is None:
            scores = self.score([context], [candidates], [self_persona or ()],
                                [partner_persona or ()])[0]  # fmt: skip
        else:
            example = self._example(0, context, candidates, self_persona or (),
                                    partner_persona or ())  # fmt: skip
            vectors = torch.as_tensor(np.asarray(response_vectors))[None]
            scores, size = [], self.max_candidates
            for start in range(0, len(candidates), size):
                part = replace(example, candidates=example.candidates[start : start + size])
                scores += self._score_batch([part], vectors[:, start : start + size])[0]
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
            ValueError: An empty context or candidate list, lists of different lengths, a
                persona the model was not trained with (it would be ignored), or none where
                the model reads one.
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
        # A context with more candidates than one pass takes is scored in parts: a
        # candidate's score does not depend on the other candidates, only memory does.
        parts = [
            replace(example, candidates=example.candidates[start : start + size])
            for example in examples
            for size in [self.max_candidates]
            for start in range(0, len(example.candidates), size)
        ]
        part_scores: list[list[float] | None] = [None] * len(parts)
        by_size: dict[int, list[int]] = {}
        for index, part in enumerate(parts):
            by_size.setdefault(len(part.candidates), []).append(index)
        for indices in by_size.values():
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                rows = self._score_batch([parts[i] for i in chunk])
                for i, row in zip(chunk, rows, strict=True):
                    part_scores[i] = row
        scores: list[list[float]] = [[] for _ in examples]
        for part, row in zip(parts, part_scores, strict=True):
            scores[part.dialogue_id] += row or []
        return scores

    def _score_batch(self, examples, response_vectors: torch.Tensor | None = None):
        batch = self.featurizer(examples)
        if response_vectors is not None:
            batch = replace(batch, response_vectors=response_vectors)
        device = next(self.network.parameters()).device
        batch = move_data_to_device(batch, device)  # as Lightning moves it
        with torch.no_grad():
            return self.network(batch).float().cpu().tolist()

    def _example(self, index, context, candidates, self_persona, partner_persona):
        if not context or not any(u.strip() for u in context):
            raise ValueError(f"context {index} is empty: give at least one utterance")
        if not candidates:
            raise ValueError(f"context {index} has no candidates to rank")
        if isinstance(context, str) or isinstance(candidates, str):
            raise ValueError(f"context {index}: give lists of utterances and candidates, not "
                             "a single string")  # fmt: skip
        check_personas(self.personas, self_persona, partner_persona, context=index)
        return RankingExample(
            dialogue_id=index, turn=0, context=tuple(context), self_persona=tuple(self_persona),
            partner_persona=tuple(partner_persona), candidates=tuple(candidates), label=0,
            response=candidates[0],
        )  # fmt: skip
