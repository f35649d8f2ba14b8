"""Responses from a generation checkpoint (``model=unilm``), from Python or the command line.

Command line: ``python -m personafuse.generate ckpt_path=PATH [split=test] [out=DIR]
[key=value ...]`` writes ``generations_{split}.tsv`` (context_id, persona, reference,
hypothesis, and each response's BLEU, Dist-1, Dist-2, length) and ``metrics.json`` into
``out`` (default ``RUN_DIR/generate/SPLIT``). Decoding is changed with the module's keys,
e.g. ``module.decoding.strategy=beam module.decoding.beam_size=4``.

Python::

    from personafuse import ResponseGenerator

    generator = ResponseGenerator.load("RUN/checkpoints/best.ckpt")
    generator.generate(["hi , how are you ?"], self_persona=["i like to ski ."])

Examples::

    python -m personafuse.generate ckpt_path=RUN/checkpoints/best.ckpt
    python -m personafuse.generate ckpt_path=RUN/checkpoints/best.ckpt split=valid \\
        module.decoding.strategy=beam
"""

from __future__ import annotations

__all__ = ["ResponseGenerator", "main"]

# The Python API lives in personafuse.inference; importable from here as documented before.
from personafuse.inference.generator import ResponseGenerator


def main(argv: list[str] | None = None) -> None:
    from personafuse import evaluate

    evaluate.main(argv, task="generation", doc=__doc__)


if __name__ == "__main__":
    main()
