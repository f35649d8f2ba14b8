"""The arguments of every command but ``train`` (which Hydra reads): ``key=value`` (also
``--key VALUE`` and ``--key=VALUE``), the command's own keys first; in ``evaluate`` and
``generate`` every other ``key=value`` is a config override."""

from __future__ import annotations

from personafuse.registry import did_you_mean

__all__ = ["ArgumentError", "choice", "parse_arguments", "positive_int", "wants_help"]

# What a required argument's value is, in its error message.
PLACEHOLDERS = {"ckpt_path": "PATH", "index": "DIR", "out": "DIR"}


class ArgumentError(ValueError):
    """A bad argument of a command; the message names it and what is allowed."""


def wants_help(argv: list[str], text: str | None) -> bool:
    """Print ``text`` (the command's docstring) and say so when ``-h``/``--help`` is given."""
    if any(argument in ("-h", "--help") for argument in argv):
        print((text or "").strip())
        return True
    return False


def parse_arguments(
    argv: list[str],
    allowed: tuple[str, ...],
    required: tuple[str, ...] = (),
    overrides: bool = False,
) -> tuple[dict[str, str], list[str]]:
    """The command's own arguments (``allowed``) and, with ``overrides``, the config
    overrides among the rest.

    Returns:
        ``(own, config_overrides)``: own keys (``-`` read as ``_``) to their values, and the
        other ``key=value`` arguments in their order (always empty without ``overrides``).

    Raises:
        ArgumentError: An argument that is not key=value, an unknown key (without
            ``overrides``; with the allowed ones) or a missing required key.
    """
    own: dict[str, str] = {}
    rest: list[str] = []
    arguments = iter(argv)
    for argument in arguments:
        if argument.startswith("--") and "=" not in argument:
            key, value = argument[2:], next(arguments, None)
            if value is None:
                raise ArgumentError(f"{argument}: give a value ({argument} VALUE)")
        else:
            key, sep, value = argument.removeprefix("--").partition("=")
            if not sep:
                raise ArgumentError(f"{argument!r}: arguments are key=value (e.g. ckpt_path=…)")
        name = key.replace("-", "_")
        if name in allowed:
            own[name] = value
        elif overrides and not argument.startswith("--"):
            rest.append(argument)
        else:
            raise ArgumentError(f"{name}: unknown argument{did_you_mean(name, allowed)}; "
                                f"allowed: {', '.join(allowed)}")  # fmt: skip
    for key in required:
        if key not in own:
            raise ArgumentError(f"{key}={PLACEHOLDERS.get(key, '…')} is required")
    return own, rest


def positive_int(own: dict[str, str], key: str, default: int) -> int:
    """``own[key]`` as an integer ≥ 1, or an :class:`ArgumentError` naming the key and value."""
    value = own.get(key, str(default))
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ArgumentError(f"{key}={value}: must be an integer ≥ 1")
    return number


def choice(own: dict[str, str], key: str, choices, default: str) -> str:
    """``own[key]`` if it is one of ``choices``, else an :class:`ArgumentError` naming the key,
    the value and what is allowed."""
    value = own.get(key, default)
    if value not in choices:
        raise ArgumentError(f"{key}={value}: valid choices: {', '.join(choices)}")
    return value
