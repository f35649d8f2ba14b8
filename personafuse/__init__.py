"""personafuse: persona fusion for personalized response selection (Gu et al., SIGIR 2021)."""

from __future__ import annotations

from personafuse.data import PersonaChatFormatError, RankingExample, read_personachat

__version__ = "0.1.0"

__all__ = [
    "PersonaChatFormatError",
    "Ranker",
    "RankingExample",
    "__version__",
    "read_personachat",
]


def __getattr__(name: str):
    # Ranker loads Lightning and the models: imported on first use, not with the package.
    if name == "Ranker":
        from personafuse.ranker import Ranker

        return Ranker
    raise AttributeError(f"module 'personafuse' has no attribute {name!r}")
