"""One small generic registry per concept, filled by importing every module of its package.

As in fairseq: a package's ``__init__`` calls :func:`import_modules` on itself, so a new module
dropped into ``personafuse/fusion/`` (or ``backbones/``, ``matching/``) registers itself with no
edit anywhere else. Code outside the package tree comes in through :func:`import_plugins`
(the ``plugins`` config key, fairseq's ``--user-dir``). :func:`lazy_exports` is the other
way a package imports its modules: each public name on first use.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

__all__ = [
    "MissingExtraError",
    "PluginError",
    "Registry",
    "did_you_mean",
    "import_modules",
    "import_plugins",
    "lazy_exports",
]

T = TypeVar("T")


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message says which extra installs it.

    It lives here, on the lowest floor, because any part of the package may need an extra
    (ONNX Runtime in ``inference``, the packaged GloVe in ``text``, FastAPI in ``serve``)."""


class PluginError(ImportError):
    """A package named in ``plugins`` cannot be imported."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Registry(Generic[T]):
    """Maps names to classes (or factories) of one kind, e.g. fusion strategies.

    Args:
        kind: What the entries are, as the config names it (``fusion``, ``model``, …); used in
            error messages such as ``unknown fusion 'x'; valid choices: …``.

    Example:
        >>> FUSIONS = Registry("fusion")
        >>> @FUSIONS.register("na")
        ... class NonAware: ...
        >>> FUSIONS.get("na") is NonAware
        True
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator that registers under ``name``; a name can be taken only once."""

        def decorator(entry: T) -> T:
            if name in self._entries and self._entries[name] is not entry:
                raise ValueError(
                    f"{self.kind} {name!r} is already registered to {self._entries[name]!r}"
                )
            self._entries[name] = entry
            return entry

        return decorator

    def get(self, name: str) -> T:
        """The entry registered as ``name``; an unknown name lists the valid ones."""
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(self.unknown(name)) from None

    def unknown(self, name: str) -> str:
        """The one-line message for a name that is not registered."""
        return (
            f"unknown {self.kind} {name!r}; valid choices: {', '.join(self.names())}"
            f"{did_you_mean(name, self.names())}"
        )

    def names(self) -> list[str]:
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        return sorted(self._entries.items())

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def import_modules(package: str) -> list[str]:
    """Import every module of ``package`` (not recursively), so each registers its entries.

    Modules whose name starts with ``_`` are skipped. Returns the imported module names.
    """
    root = importlib.import_module(package)
    names = []
    for info in pkgutil.iter_modules(root.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")
            names.append(info.name)
    return names


def import_plugins(packages: Iterable[str]) -> None:
    """Import user packages (and every module in them) that register their own fusion
    strategies, backbones or matching features; already imported ones cost nothing."""
    for package in packages or ():
        try:
            module = importlib.import_module(package)
            if hasattr(module, "__path__"):
                import_modules(package)
        except ImportError as err:
            raise PluginError(
                f"plugins: cannot import {package!r} ({err}); put its folder on PYTHONPATH"
            ) from err


def lazy_exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A package's module-level ``__getattr__`` (PEP 562) that imports each public name from
    its module on first use, so that importing the package stays light (a command's
    ``--help`` does not load torch). ``where`` maps a name to its module: relative to
    ``package`` (``".ranker"``) or absolute (``"personafuse.data"``)."""

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(importlib.import_module(where[name], package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
