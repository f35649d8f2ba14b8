"""Responses from a trained generator (``model=unilm``), from Python::

from personafuse import ResponseGenerator

generator = ResponseGenerator.load("RUN/checkpoints/best.ckpt")   # or a model folder
generator.generate(["hi , how are you ?"], self_persona=["i like to ski ."])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from personafuse.inference.personas import check_personas

__all__ = ["ResponseGenerator"]


class ResponseGenerator:
    """A trained generator with its tokenizer and decoding settings.

    Use :meth:`load` (a checkpoint or a model folder); then :meth:`generate` for one context
    or :meth:`generate_batch`. ``config`` and ``card`` (the training run's config and what a
    model card reports) are what :meth:`save_pretrained` writes.
    """

    def __init__(self, network, featurizer, decoding: dict, personas: tuple[str, ...],
                 config=None, card: dict | None = None):  # fmt: skip
        self.network = network.eval()
        self.featurizer = featurizer
        self.decoding = dict(decoding)
        self.personas = personas
        self.config = config
        self.card = dict(card or {})

    @classmethod
    def load(cls, ckpt_path: str | Path, device: str = "cpu") -> ResponseGenerator:
        """Load a verified ``model=unilm`` checkpoint with its run's settings, or a model
        folder or hub repository (:meth:`from_pretrained`).

        Raises:
            CheckpointError: The file is not a usable personafuse checkpoint, or it is a
                ranker's.
        """
        from personafuse.runs.restore import restore_run

        if not Path(ckpt_path).is_file():
            return cls.from_pretrained(ckpt_path, device)
        run = restore_run(ckpt_path, device=device)
        run.require_task("generation", "personafuse.Ranker")
        decoding = run.checkpoint["hyper_parameters"].get("decoding", {})
        return cls(run.network, run.featurizer, decoding, run.personas, run.cfg, run.card())

    @classmethod
    def from_pretrained(cls, name: str | Path, device: str = "cpu") -> ResponseGenerator:
        """Load a model folder written by :meth:`save_pretrained` (or a hub repository)."""
        from personafuse.inference.folder import load_folder

        folder = load_folder(name, device, task="generation")
        card = {"metrics": folder.record["metrics"], "command": folder.record["command"]}
        return cls(folder.network, folder.featurizer, folder.record.get("decoding", {}),
                   folder.personas, folder.cfg, card)  # fmt: skip

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write this generator as one self-describing folder (with its decoding settings)."""
        from personafuse.inference.folder import save_folder

        if self.config is None:
            raise ValueError("this generator has no training config: load it with load")
        return save_folder(directory, "generation", self.config, self.network, self.featurizer,
                           self.personas, self.card, {"decoding": self.decoding})  # fmt: skip

    def generate(
        self,
        context: Sequence[str],
        self_persona: Sequence[str] = (),
        partner_persona: Sequence[str] = (),
        **decoding,
    ) -> str:
        """One response to ``context`` (oldest utterance first, the partner's last).

        Decoding settings (``strategy``, ``beam_size``, ``top_p``, …) override the run's.

        Raises:
            ValueError: A persona the model was not trained with (it would be ignored), or
                an unknown decoding setting.
        """
        return self.generate_batch([context], [self_persona], [partner_persona], **decoding)[0]

    def generate_batch(self, contexts, self_personas=None, partner_personas=None, **decoding):
        """One response per context; personas as lists aligned with ``contexts``."""
        import torch

        from personafuse.data.schema import RankingExample
        from personafuse.generation.decoding import DecodingConfig

        self_personas = self_personas or [()] * len(contexts)
        partner_personas = partner_personas or [()] * len(contexts)
        examples = []
        for context, own, partner in zip(contexts, self_personas, partner_personas, strict=True):
            check_personas(self.personas, own, partner)
            examples.append(RankingExample(0, 0, tuple(context), tuple(own), tuple(partner),
                                           (), None, ""))  # fmt: skip
        settings = DecodingConfig(**(self.decoding | decoding))
        device = next(self.network.parameters()).device
        batch = self.featurizer(examples).to(device)
        with torch.no_grad():
            generated = self.network.generate(batch, settings)
        return [self.network.text(ids) for ids in generated]
