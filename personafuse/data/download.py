"""Checksum-verified, atomic download of Persona-Chat (ParlAI's ``personachat.tgz``).

Usage::

    python -m personafuse.data.download --dest DIR            # fetch, verify, extract
    python -m personafuse.data.download --dest DIR --archive personachat.tgz   # offline

The archive is streamed to ``DIR/.personachat.tgz.part``, its SHA-256 is checked, and it is
extracted into a temporary directory that is renamed to ``DIR/personachat`` only when complete,
so there is never a half-extracted data directory.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["PERSONACHAT_SHA256", "PERSONACHAT_URL", "DownloadError", "download", "extract_verified"]

PERSONACHAT_URL = "http://parl.ai/downloads/personachat/personachat.tgz"
PERSONACHAT_SHA256 = "507cf8641d333240654798870ea584d854ab5261071c5e3521c20d8fa41d5622"
PERSONACHAT_BYTES = 223_221_886
_CHUNK = 1 << 20


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


def extract_verified(
    archive: str | os.PathLike,
    dest: str | os.PathLike,
    sha256: str = PERSONACHAT_SHA256,
    force: bool = False,
) -> Path:
    """Verify ``archive`` and extract its ``personachat/`` folder atomically into ``dest``.

    Returns:
        The ``dest/personachat`` directory.

    Raises:
        DownloadError: On a checksum mismatch, a corrupt or unsafe archive, an archive without
            a ``personachat/`` folder, or an existing target without ``force``.
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
                # The "data" filter refuses absolute paths, '..' and links out of the tree.
                tar.extractall(staging, filter="data")
        except (tarfile.TarError, EOFError, OSError) as err:
            raise DownloadError(f"{archive}: cannot extract ({err}); nothing was written") from None
        extracted = staging / "personachat"
        if not extracted.is_dir():
            raise DownloadError(f"{archive}: no personachat/ folder inside; nothing was written")
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
) -> Path:
    """Download, verify and extract Persona-Chat into ``dest/personachat``."""
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
        return extract_verified(partial, dest, sha256, force)
    finally:
        partial.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Download and verify Persona-Chat (ParlAI format)."
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
