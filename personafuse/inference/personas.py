"""The personas a caller gives a trained model, against those it was trained to read."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["check_personas"]


def check_personas(
    trained: tuple[str, ...],
    self_persona: Sequence[str] | None,
    partner_persona: Sequence[str] | None,
    context: int | None = None,
) -> None:
    """Refuse a persona the model was not trained with (it would be ignored) and, for a ranker
    (``context`` given: the index of the context checked), a missing one it reads.

    Raises:
        ValueError: The persona and what the model was trained with.
    """
    names = "+".join(trained) or "none"
    given = {"self": self_persona, "partner": partner_persona}
    for name, sentences in given.items():
        if sentences and name not in trained:
            raise ValueError(
                f"{name}_persona given, but this model was trained with persona={names}: it "
                "would not read it"
            )
    if context is None:
        return
    for name, sentences in given.items():
        if not sentences and name in trained:
            raise ValueError(
                f"context {context}: no {name}_persona, but this model was trained with "
                f"persona={names} and reads one; give its profile sentences"
            )
