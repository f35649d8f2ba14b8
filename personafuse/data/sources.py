"""Where the split files of a data set live: the real Persona-Chat or the synthetic corpus."""

from __future__ import annotations

import os
from pathlib import Path

from personafuse.data.persona import PERSONA_CHOICES, VARIANT_OF_PERSONA

__all__ = ["SPLITS", "VARIANTS", "VERSIONS", "DatasetNotFoundError", "PersonaChatFiles"]

SPLITS = ("train", "valid", "test")
# The persona variants of ParlAI's personachat/ folder: {split}_{variant}.txt, 21 files.
VARIANTS = (
    "none_original",
    "self_original",
    "self_revised",
    "other_original",
    "other_revised",
    "both_original",
    "both_revised",
)
VERSIONS = ("original", "revised")


class DatasetNotFoundError(FileNotFoundError):
    """No file for a split; the message says how to get one."""


class PersonaChatFiles:
    """Resolves ``{split}_{variant}_{version}.txt`` inside a Persona-Chat directory.

    The ``both`` file is preferred since it serves every persona choice; otherwise the file of
    the variant that holds the chosen persona is used (``self``→``self``, ``partner``→``other``,
    ``none``→``none``; the ``none`` variant exists only as ``none_original``). Compressed
    ``.txt.gz`` copies are accepted. ``data_dir`` may also be the parent of the extracted
    ``personachat/`` folder.

    Args:
        data_dir: Directory with the text files.
        version: ``original`` or ``revised`` personas.
    """

    def __init__(self, data_dir: str | os.PathLike, version: str = "original"):
        if version not in VERSIONS:
            raise ValueError(f"dataset.version={version!r}; valid choices: {', '.join(VERSIONS)}")
        self.data_dir = Path(data_dir).expanduser()
        self.version = version

    def prepare(self) -> None:
        """Nothing to make for the real data; checks happen in :meth:`split_path`."""

    def candidates(self, split: str, persona: str) -> list[str]:
        """File names tried for ``split`` and ``persona``, in order of preference."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid choices: {', '.join(SPLITS)}")
        if persona not in PERSONA_CHOICES:
            raise ValueError(
                f"unknown persona {persona!r}; valid choices: {', '.join(PERSONA_CHOICES)}"
            )
        variant = VARIANT_OF_PERSONA[persona]
        version = "original" if variant == "none" else self.version
        names = [f"{split}_both_{self.version}.txt"]
        if variant != "both":
            names.append(f"{split}_{variant}_{version}.txt")
        return names

    def split_path(self, split: str, persona: str) -> Path:
        """The file to read for ``split`` under persona choice ``persona``."""
        names = self.candidates(split, persona)
        folders = [self.data_dir, self.data_dir / "personachat"]
        for name in names:
            for folder in folders:
                for path in (folder / name, folder / f"{name}.gz"):
                    if path.is_file():
                        return path
        raise DatasetNotFoundError(
            f"No Persona-Chat file for split '{split}' (persona={persona}, "
            f"version={self.version}) in {self.data_dir}: looked for {', '.join(names)}.\n"
            f"Download the data with `python -m personafuse.data.download --dest "
            f"{self.data_dir}`, set dataset.data_dir=... to where the files are, or run "
            "offline on the generated corpus with `dataset=synthetic`."
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(data_dir={str(self.data_dir)!r}, version={self.version!r})"
