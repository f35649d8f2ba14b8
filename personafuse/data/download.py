"""Checksum-verified, atomic download of Persona-Chat (ParlAI's ``personachat.tgz``).

Usage::

    python -m personafuse.data.download --dest DIR            # fetch, verify, extract
    python -m personafuse.data.download --dest DIR --archive personachat.tgz   # offline

The archive is streamed to ``DIR/.personachat.tgz.part``, its SHA-256 is checked, every member
is checked to stay inside the target (absolute or ``..`` names and links are refused), and it
is extracted into a temporary directory. That directory must hold every expected file (the 21
Persona-Chat files, with the sizes and MD5s that SPEC knows) before it is renamed to
``DIR/personachat``, so there is never a half-extracted or wrong data directory, and
``--force`` never replaces a good extraction with a bad one.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import posixpath
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from personafuse.data.sources import SPLITS, VARIANTS

__all__ = [
    "PERSONACHAT_FILES",
    "PERSONACHAT_SHA256",
    "PERSONACHAT_URL",
    "DownloadError",
    "download",
    "extract_verified",
]

PERSONACHAT_URL = "http://parl.ai/downloads/personachat/personachat.tgz"
PERSONACHAT_SHA256 = "507cf8641d333240654798870ea584d854ab5261071c5e3521c20d8fa41d5622"
PERSONACHAT_BYTES = 223_221_886
_CHUNK = 1 << 20

# The files of personachat/ in the archive: name -> (bytes, MD5) where known (SPEC), else None.
PERSONACHAT_FILES: dict[str, tuple[int, str] | None] = {
    f"{split}_{variant}.txt": None for split in SPLITS for variant in VARIANTS
} | {
    "train_both_original.txt": (77_583_133, "532166c4e694315666d1daa3269c5d5b"),
    "train_both_revised.txt": (77_607_499, "98815858fe4f2a2ec96e0d94b544eaaa"),
    "valid_both_original.txt": (9_399_184, "1b5b19dfe56ad7b7966cb0df9599f260"),
    "valid_both_revised.txt": (9_410_622, "03dad5ad8cbdfbb58c420906db95510d"),
    "test_both_original.txt": (8_927_583, "c78028c2235b282316630d8ac2161e56"),
    "test_both_revised.txt": (8_943_764, "15cd1a4a76dfdc1219efb8cfc6f363f4"),
}


class DownloadError(RuntimeError):
    """Download, verification or extraction failed; nothing was left half-done."""


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _manual_steps(dest: Path, url: str) -> str:
    return (
        f"To place the files by hand: on a machine with internet, download {url} "
        f"(SHA-256 {PERSONACHAT_SHA256}), copy it here and run\n"
        f"    python -m personafuse.data.download --dest {dest} --archive personachat.tgz\n"
        f"or extract it yourself so that {dest}/personachat/train_both_original.txt exists. "
        "Without the data, `dataset=synthetic` runs everything on a generated corpus."
    )


def fetch(url: str, target: Path, expected_bytes: int | None = None) -> None:
    """Stream ``url`` to ``target`` with a progress bar."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as out:
        total = int(response.headers.get("Content-Length") or expected_bytes or 0) or None
        columns = (
            *Progress.get_default_columns()[:2],
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
        )
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task(f"downloading {Path(url).name}", total=total)
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                progress.advance(task, len(chunk))


def _check_members(archive: Path, tar: tarfile.TarFile) -> None:
    """Refuse members that would land outside the extraction folder, or are not plain files
    and folders, before anything is written."""
    for member in tar.getmembers():
        name = member.name
        normal = posixpath.normpath(name)
        if name.startswith(("/", "\\")) or posixpath.isabs(normal) or ":" in name.split("/")[0]:
            raise DownloadError(f"{archive}: member {name!r} has an absolute path; refused")
        if normal == ".." or normal.startswith("../"):
            raise DownloadError(f"{archive}: member {name!r} escapes the folder; refused")
        if not (member.isfile() or member.isdir()):
            raise DownloadError(f"{archive}: member {name!r} is a link or device; refused")


def _check_files(archive: Path, folder: Path, expected: Mapping[str, tuple[int, str] | None]):
    """Every expected file is in ``folder``, with its size and MD5 where known."""
    missing = sorted(name for name in expected if not (folder / name).is_file())
    if missing:
        raise DownloadError(
            f"{archive}: {len(missing)} of {len(expected)} expected files are missing "
            f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}); nothing was written"
        )
    for name, known in expected.items():
        if known is None:
            continue
        size, md5 = known
        path = folder / name
        if path.stat().st_size != size or _md5_of(path) != md5:
            raise DownloadError(
                f"{archive}: {name} is not the expected file ({path.stat().st_size} bytes, "
                f"expected {size} with MD5 {md5}); nothing was written"
            )


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def extract_verified(
    archive: str | os.PathLike,
    dest: str | os.PathLike,
    sha256: str = PERSONACHAT_SHA256,
    force: bool = False,
    expected: Mapping[str, tuple[int, str] | None] | None = None,
) -> Path:
    """Verify ``archive`` and extract its ``personachat/`` folder atomically into ``dest``.

    Args:
        archive: The ``personachat.tgz``.
        dest: Where ``personachat/`` goes.
        sha256: The archive's expected SHA-256.
        force: Replace an existing ``dest/personachat`` (only with a verified extraction).
        expected: Files that ``personachat/`` must hold: name -> (bytes, MD5), or None to
            check presence only; by default :data:`PERSONACHAT_FILES`.

    Returns:
        The ``dest/personachat`` directory.

    Raises:
        DownloadError: On a checksum mismatch, a corrupt or unsafe archive, an archive without
            a ``personachat/`` folder or without an expected file, or an existing target
            without ``force``. Nothing in ``dest`` is changed then.
    """
    archive, dest = Path(archive), Path(dest)
    target = dest / "personachat"
    if target.exists() and not force:
        raise DownloadError(f"{target} already exists; pass --force to replace it")
    actual = sha256_of(archive)
    if actual != sha256:
        raise DownloadError(f"{archive}: SHA-256 is {actual}, expected {sha256}; not extracted")
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".personachat-extract-", dir=dest))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                _check_members(archive, tar)
                # The "data" filter is a second guard (it would strip a leading "/"), where
                # this Python has it: 3.11.4 and later (Debian 12's 3.11.2 does not).
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(staging, filter="data")
                else:
                    tar.extractall(staging)  # every member was checked above
        except (tarfile.TarError, EOFError, OSError) as err:
            raise DownloadError(f"{archive}: cannot extract ({err}); nothing was written") from None
        extracted = staging / "personachat"
        if not extracted.is_dir():
            raise DownloadError(f"{archive}: no personachat/ folder inside; nothing was written")
        _check_files(archive, extracted, PERSONACHAT_FILES if expected is None else expected)
        if target.exists():
            old = dest / f".personachat-old-{os.getpid()}"
            os.replace(target, old)
            os.replace(extracted, target)
            shutil.rmtree(old)
        else:
            os.replace(extracted, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def download(
    dest: str | os.PathLike,
    url: str = PERSONACHAT_URL,
    sha256: str = PERSONACHAT_SHA256,
    force: bool = False,
    expected: Mapping[str, tuple[int, str] | None] | None = None,
) -> Path:
    """Download, verify and extract Persona-Chat into ``dest/personachat`` (see
    :func:`extract_verified` for ``expected``)."""
    dest = Path(dest)
    if (dest / "personachat").exists() and not force:
        raise DownloadError(f"{dest / 'personachat'} already exists; pass --force to replace it")
    dest.mkdir(parents=True, exist_ok=True)
    partial = dest / ".personachat.tgz.part"
    try:
        fetch(url, partial, PERSONACHAT_BYTES if url == PERSONACHAT_URL else None)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"cannot download {url}: {err}.\n{_manual_steps(dest, url)}") from None
    try:
        return extract_verified(partial, dest, sha256, force, expected)
    finally:
        partial.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m personafuse.data.download",
        description="Download Persona-Chat (ParlAI format, CC BY 4.0), check the archive's "
        "SHA-256 and every file's MD5, and extract it to DEST/personachat/.",
        epilog="examples:\n"
        "  python -m personafuse.data.download --dest ~/.cache/personafuse/data\n"
        "  python -m personafuse.data.download --dest data --archive personachat.tgz  # offline\n"
        "then: python -m personafuse.train dataset=personachat paths.data_dir=DEST",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dest", required=True, type=Path, help="directory to extract into")
    parser.add_argument("--archive", type=Path, help="use this local personachat.tgz instead")
    parser.add_argument("--url", default=PERSONACHAT_URL)
    parser.add_argument("--sha256", default=PERSONACHAT_SHA256)
    parser.add_argument("--force", action="store_true", help="replace an existing extraction")
    args = parser.parse_args(argv)
    try:
        if args.archive:
            target = extract_verified(args.archive, args.dest, args.sha256, args.force)
        else:
            target = download(args.dest, args.url, args.sha256, args.force)
    except DownloadError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Persona-Chat is in {target}; train with dataset=personachat dataset.data_dir={target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
