"""Persona selection: which profile sentences a model may see (``none|self|partner|both``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from personafuse.data.schema import RankingExample

__all__ = [
    "PERSONA_CHOICES",
    "VARIANT_OF_PERSONA",
    "PersonaSelectionError",
    "fused_personas",
    "select_persona",
]

PERSONA_CHOICES = ("none", "self", "partner", "both")
# Which Persona-Chat file variant holds each persona choice ("other" is the partner's persona).
VARIANT_OF_PERSONA = {"none": "none", "self": "self", "partner": "other", "both": "both"}


class PersonaSelectionError(ValueError):
    """The chosen persona is unknown, or the data does not contain it."""


def fused_personas(persona: str, as_context: bool = False) -> tuple[str, ...]:
    """Which personas a model fuses: none for ``none`` and for persona-only runs (Table 2),
    where the persona sentences take the place of the context."""
    if as_context:
        return ()
    return {"none": (), "self": ("self",), "partner": ("partner",), "both": ("self", "partner")}[
        persona
    ]


def select_persona(examples: Iterable[RankingExample], choice: str) -> list[RankingExample]:
    """Keep only the persona sentences of ``choice``; the rest is emptied.

    ``both`` keeps self and partner apart (in their own fields), so models can fuse each one.

    Args:
        examples: Examples as read from a file.
        choice: One of :data:`PERSONA_CHOICES`.

    Raises:
        PersonaSelectionError: For an unknown choice, or when an example lacks the persona
            it needs (for instance ``partner`` on a ``self`` file); the message names the file
            and line.
    """
    if choice not in PERSONA_CHOICES:
        raise PersonaSelectionError(
            f"unknown persona {choice!r}; valid choices: {', '.join(PERSONA_CHOICES)}"
        )
    keep_self = choice in ("self", "both")
    keep_partner = choice in ("partner", "both")
    selected = []
    for example in examples:
        if keep_self and not example.self_persona:
            raise PersonaSelectionError(
                f"{example.source}: persona={choice} needs 'your persona:' lines, but this "
                "dialogue has none; use a *_self_* or *_both_* file"
            )
        if keep_partner and not example.partner_persona:
            raise PersonaSelectionError(
                f'{example.source}: persona={choice} needs "partner\'s persona:" lines, but '
                "this dialogue has none; use a *_other_* or *_both_* file"
            )
        selected.append(
            dataclasses.replace(
                example,
                self_persona=example.self_persona if keep_self else (),
                partner_persona=example.partner_persona if keep_partner else (),
            )
        )
    return selected
