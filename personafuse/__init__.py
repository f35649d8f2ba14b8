"""personafuse: persona fusion for personalized response selection (Gu et al., SIGIR 2021)."""

from __future__ import annotations

from personafuse.data import PersonaChatFormatError, RankingExample, read_personachat

__version__ = "0.2.0"

__all__ = [
    "PersonaChatFormatError",
    "Ranker",
    "RankingExample",
    "ResponseGenerator",
    "__version__",
    "read_personachat",
]


def __getattr__(name: str):
    # A lazy facade (the one arrow from the package root up to inference): Ranker and
    # ResponseGenerator load Lightning and the models, on first use, not with the package.
    if name in ("Ranker", "ResponseGenerator"):
        from personafuse import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'personafuse' has no attribute {name!r}")
