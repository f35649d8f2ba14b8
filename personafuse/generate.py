"""Responses from a generation checkpoint (``model=unilm``), from Python or the command line.

Command line: ``python -m personafuse.generate ckpt_path=PATH [split=test] [out=DIR]
[key=value ...]`` writes ``generations_{split}.tsv`` (context_id, persona, reference,
hypothesis, and each response's BLEU, Dist-1, Dist-2, length) and ``metrics.json`` into
``out`` (default ``RUN_DIR/generate/SPLIT``). Decoding is changed with the module's keys,
e.g. ``module.decoding.strategy=beam module.decoding.beam_size=4``.

Python::

    from personafuse.generate import ResponseGenerator

    generator = ResponseGenerator.load("RUN/checkpoints/best.ckpt")
    generator.generate(["hi , how are you ?"], self_persona=["i like to ski ."])

Examples::

    python -m personafuse.generate ckpt_path=RUN/checkpoints/best.ckpt
    python -m personafuse.generate ckpt_path=RUN/checkpoints/best.ckpt split=valid \\
        module.decoding.strategy=beam
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["ResponseGenerator", "main"]


class ResponseGenerator:
    """A trained generator with its tokenizer and decoding settings.

    Use :meth:`load`; then :meth:`generate` for one context or :meth:`generate_batch`.
    """

    def __init__(self, network, featurizer, decoding: dict, personas: tuple[str, ...]):
        self.network = network.eval()
        self.featurizer = featurizer
        self.decoding = dict(decoding)
        self.personas = personas

    @classmethod
    def load(cls, ckpt_path: str | Path, device: str = "cpu") -> ResponseGenerator:
        """Load a verified ``model=unilm`` checkpoint with its run's settings.

        Raises:
            CheckpointError: The file is not a usable personafuse checkpoint.
            ValueError: The checkpoint is not a generator's.
        """
        from personafuse.network import fused_personas, load_run

        cfg, featurizer, network, checkpoint = load_run(ckpt_path, device)
        if not hasattr(network, "generate"):
            raise ValueError(f"{ckpt_path}: a model={cfg.model.name} checkpoint ranks, it does "
                             "not generate; use personafuse.Ranker")  # fmt: skip
        decoding = checkpoint["hyper_parameters"].get("decoding", {})
        personas = fused_personas(cfg.persona.name, bool(cfg.persona.as_context))
        return cls(network, featurizer, decoding, personas)

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
            for name, given in (("self", own), ("partner", partner)):
                if given and name not in self.personas:
                    trained = "+".join(self.personas) or "none"
                    raise ValueError(
                        f"{name}_persona given, but this model was trained with "
                        f"persona={trained}: it would not read it"
                    )
            examples.append(RankingExample(0, 0, tuple(context), tuple(own), tuple(partner),
                                           (), None, ""))  # fmt: skip
        settings = DecodingConfig(**(self.decoding | decoding))
        device = next(self.network.parameters()).device
        batch = self.featurizer(examples).to(device)
        with torch.no_grad():
            generated = self.network.generate(batch, settings)
        return [self.network.text(ids) for ids in generated]


def main(argv: list[str] | None = None) -> None:
    from personafuse import evaluate

    argv = sys.argv[1:] if argv is None else argv
    if any(argument in ("-h", "--help") for argument in argv):
        print(__doc__.strip())
        return
    own_keys = ("ckpt_path=", "split=", "out=")
    own = dict(a.partition("=")[::2] for a in argv if a.startswith(own_keys))
    if "ckpt_path" in own and "out" not in own:
        split = own.get("split", "test")
        run_dir = Path(own["ckpt_path"]).resolve().parent.parent
        argv = [*argv, f"out={run_dir / 'generate' / split}"]
    evaluate.main(argv, task="generation")


if __name__ == "__main__":
    main()
