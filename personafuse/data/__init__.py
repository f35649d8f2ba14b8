"""Persona-Chat data: reading, persona selection, synthetic corpus, Lightning data module."""

from __future__ import annotations

from personafuse.data.parlai import PersonaChatFormatError, iter_personachat, read_personachat
from personafuse.data.persona import (
    PERSONA_CHOICES,
    PersonaSelectionError,
    fused_personas,
    select_persona,
)
from personafuse.data.schema import RankingExample, TextBatch
from personafuse.data.sources import DatasetNotFoundError, PersonaChatFiles

__all__ = [
    "PERSONA_CHOICES",
    "DatasetNotFoundError",
    "PersonaChatFiles",
    "PersonaChatFormatError",
    "PersonaSelectionError",
    "RankingDataModule",
    "RankingExample",
    "SyntheticPersonaChat",
    "TextBatch",
    "fused_personas",
    "generate_corpus",
    "iter_personachat",
    "read_personachat",
    "select_persona",
    "shuffle_candidates",
]


def __getattr__(name: str):
    # The data module pulls in Lightning (~10 s to import); the reader and CLIs do not need it.
    if name in ("RankingDataModule", "shuffle_candidates"):
        from personafuse.data import datamodule

        return getattr(datamodule, name)
    # Imported on use, so that `python -m personafuse.data.synthetic` does not find the module
    # already imported by its package (runpy's RuntimeWarning).
    if name in ("SyntheticPersonaChat", "generate_corpus"):
        from personafuse.data import synthetic

        return getattr(synthetic, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
