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
from pathlib import Path

import numpy as np
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device

from personafuse.data.schema import RankingExample
from personafuse.inference.personas import check_personas

__all__ = ["RankedCandidate", "Ranker", "Request", "best_first"]


def best_first(candidates: Sequence[str], scores: Sequence[float], top_k: int | None = None):
    """The candidates as :class:`RankedCandidate`, best first (ties in input order)."""
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])[:top_k]
    return [RankedCandidate(candidates[i], scores[i], i) for i in order]


@dataclass(frozen=True)
class Request:
    """One context to score: its candidates, personas and, optionally, the candidates' stored
    ``response_vectors`` (C, D)."""

    context: Sequence[str]
    candidates: Sequence[str]
    self_persona: Sequence[str] | None = None
    partner_persona: Sequence[str] | None = None
    response_vectors: np.ndarray | torch.Tensor | None = None


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
        card: What a model folder's card reports (``metrics``, ``command``).
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
        card: dict | None = None,
    ):
        self.network = network.eval()
        self.featurizer = featurizer
        self.personas = personas
        self.batch_size = batch_size
        self.identity = dict(identity or {})
        self.config = config
        self.card = dict(card or {})

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
                   run.identity, run.cfg, run.card())  # fmt: skip

    @classmethod
    def from_pretrained(cls, name: str | Path, device: str = "auto",
                        backend: str = "torch") -> Ranker:  # fmt: skip
        """Load a model folder written by :meth:`save_pretrained`, or a Hugging Face hub
        repository holding one: no training run and no ``conf/`` needed. ``backend``: ``torch``,
        or for BERT ``onnx`` / ``onnx-int8`` (the folder's ``onnx/`` export,
        :func:`personafuse.inference.onnx.export_onnx`).

        Raises:
            CheckpointError: Not a ranker's model folder, one this version cannot read, or no
                export for the backend.
            MissingAssetError: Not a folder here, and the hub did not give it.
        """
        from personafuse.inference.folder import load_folder

        folder = load_folder(name, device if backend == "torch" else "cpu", task="ranking")
        card = {"metrics": folder.record["metrics"], "command": folder.record["command"]}
        batch = int(folder.cfg.model.eval_batch_size)
        ranker = cls(folder.network, folder.featurizer, folder.personas, batch, folder.identity,
                     folder.cfg, card)  # fmt: skip
        if backend != "torch":
            from personafuse.inference.onnx import attach_onnx

            attach_onnx(ranker, folder.path, backend)
            ranker.identity["backend"] = backend
        return ranker

    @classmethod
    def load(cls, path: str | Path, device: str = "auto", backend: str = "torch") -> Ranker:
        """A checkpoint file (:meth:`from_checkpoint`) or a model folder or hub repository
        (:meth:`from_pretrained`, with its ``backend``)."""
        if Path(path).is_file():
            if backend != "torch":
                from personafuse.checkpoints import CheckpointError

                raise CheckpointError(f"backend={backend} reads a model folder: save the "
                                      "checkpoint's with Ranker.save_pretrained(DIR) and "
                                      "export_onnx(ranker, DIR)")  # fmt: skip
            return cls.from_checkpoint(path, device)
        return cls.from_pretrained(path, device, backend)

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write this ranker as one self-describing folder (weights, config, vocabulary or
        tokenizer, model card) that :meth:`from_pretrained` loads anywhere."""
        from personafuse.inference.folder import save_folder

        if self.config is None:
            raise ValueError("this ranker has no training config: load it with "
                             "from_checkpoint or from_pretrained")  # fmt: skip
        return save_folder(directory, "ranking", self.config, self.network, self.featurizer,
                           self.personas, self.card)  # fmt: skip

    def push_to_hub(self, repo_id: str, private: bool = False) -> str:
        """Save the model folder and upload it to the Hugging Face hub; returns its URL."""
        import tempfile

        from personafuse.inference.folder import push_folder

        with tempfile.TemporaryDirectory() as directory:
            self.save_pretrained(directory)
            return push_folder(directory, repo_id, private)

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
        request = Request(context, candidates, self_persona, partner_persona, response_vectors)
        scores = self.score_requests([request])[0]
        return best_first(candidates, scores, top_k)

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
        requests = [Request(*row) for row in zip(contexts, candidates, self_personas,
                                                  partner_personas, strict=True)]  # fmt: skip
        return self.score_requests(requests)

    def score_requests(self, requests: Sequence[Request]) -> list[list[float]]:
        """Scores of independent requests in as few forwards as possible: each request's
        candidates are scored in parts of at most ``max_candidates`` (a candidate's score
        does not depend on the others), and parts with as many candidates, all with stored
        vectors or all without, share batches of ``batch_size`` contexts. What the server's
        request batching calls; :meth:`rank` and :meth:`score` are its one-request forms.

        Raises:
            ValueError: As :meth:`score`, for the first bad request.
        """
        parts: list[tuple[int, RankingExample, torch.Tensor | None]] = []
        for index, request in enumerate(requests):
            personas = (request.self_persona or (), request.partner_persona or ())
            example = self._example(index, request.context, request.candidates, *personas)
            vectors = request.response_vectors
            if vectors is not None:
                vectors = torch.as_tensor(np.asarray(vectors))
            for start in range(0, len(example.candidates), self.max_candidates):
                stop = start + self.max_candidates
                parts.append((index, replace(example, candidates=example.candidates[start:stop]),
                              None if vectors is None else vectors[start:stop]))  # fmt: skip
        groups: dict[tuple[int, bool], list[int]] = {}
        for position, (_, part, vectors) in enumerate(parts):
            groups.setdefault((len(part.candidates), vectors is None), []).append(position)
        part_scores: list[list[float]] = [[] for _ in parts]
        for positions in groups.values():
            for start in range(0, len(positions), self.batch_size):
                chunk = positions[start : start + self.batch_size]
                stored = [parts[p][2] for p in chunk]
                present = [v for v in stored if v is not None]
                vectors = torch.stack(present) if present else None
                rows = self._score_batch([parts[p][1] for p in chunk], vectors)
                for position, row in zip(chunk, rows, strict=True):
                    part_scores[position] = row
        scores: list[list[float]] = [[] for _ in requests]
        for (index, _, _), row in zip(parts, part_scores, strict=True):
            scores[index] += row
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
