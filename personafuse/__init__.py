"""personafuse: persona fusion for personalized response selection (Gu et al., SIGIR 2021)."""

from __future__ import annotations

from personafuse.data import PersonaChatFormatError, RankingExample, read_personachat

__version__ = "0.1.0"

__all__ = ["PersonaChatFormatError", "RankingExample", "__version__", "read_personachat"]
