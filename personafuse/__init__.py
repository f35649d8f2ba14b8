"""personafuse: persona fusion for personalized response selection (Gu et al., SIGIR 2021)."""

from __future__ import annotations

from personafuse.registry import lazy_exports

__version__ = "0.2.0"

__all__ = [
    "PersonaChatFormatError",
    "Ranker",
    "RankingExample",
    "ResponseGenerator",
    "__version__",
    "read_personachat",
]

# The public names, each imported on first use: `import personafuse` (and every command's
# `--help`) stays light, and Ranker and ResponseGenerator load Lightning and the models only
# when asked for. The package root is the public face (the top floor, docs/architecture.md).
__getattr__ = lazy_exports(
    __name__,
    {
        "PersonaChatFormatError": "personafuse.data",
        "RankingExample": "personafuse.data",
        "read_personachat": "personafuse.data",
        "Ranker": "personafuse.inference",
        "ResponseGenerator": "personafuse.inference",
    },
)
