"""Every error that is the user's to fix is in one list, and every command prints it in one
line without a traceback."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import personafuse
from personafuse.cli.errors import USER_ERRORS, one_line_errors
from personafuse.data import PersonaChatFormatError


def _library_exceptions() -> set[type[BaseException]]:
    found = set()
    for module in pkgutil.walk_packages(personafuse.__path__, "personafuse."):
        if module.name.rsplit(".", 1)[-1] == "__main__":
            continue  # running a command is not importing it
        loaded = importlib.import_module(module.name)
        for _, value in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("personafuse"):
                found.add(value)
    return found


def test_every_exception_class_of_the_library_is_a_user_error():
    classes = _library_exceptions()
    assert len(classes) >= 10  # the walk found the library's errors
    uncovered = sorted(c.__qualname__ for c in classes if not issubclass(c, USER_ERRORS))
    assert uncovered == []


def _raise(error: type[BaseException]):
    if error is PersonaChatFormatError:  # names the file and line, then shows the line
        raise error("train.txt", 3, "first line of the reason", "second line")
    raise error("first line of the reason\nsecond line")


OWN_ERRORS = [e for e in USER_ERRORS if e.__module__.startswith("personafuse")]


@pytest.mark.parametrize("error", OWN_ERRORS, ids=lambda e: e.__name__)
def test_a_user_error_ends_the_command_in_one_line(error, capsys):
    with pytest.raises(SystemExit) as exit_, one_line_errors():
        _raise(error)
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "first line of the reason" in err and "second line" in err


def test_other_exceptions_are_not_swallowed():
    with pytest.raises(KeyError), one_line_errors():
        raise KeyError("a bug keeps its traceback")


def test_a_subclass_of_a_user_error_is_one_too(capsys):
    """The errors are matched by the names of their classes and bases (nothing imported)."""
    from personafuse.cli.errors import is_user_error
    from personafuse.config import ConfigError

    class PluginConfigError(ConfigError):
        pass

    assert is_user_error(PluginConfigError("x")) and not is_user_error(ValueError("x"))
    with pytest.raises(SystemExit), one_line_errors():
        raise PluginConfigError("a plugin's own check")
    assert capsys.readouterr().err == "error: a plugin's own check\n"
