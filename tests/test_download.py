"""Checksum verification and atomic extraction, on archives made in the test (no network)."""

from __future__ import annotations

import io
import tarfile

import pytest

from personafuse.data import download as download_module
from personafuse.data.download import (
    PERSONACHAT_FILES,
    DownloadError,
    download,
    extract_verified,
    main,
    sha256_of,
)

from .conftest import RAW


def _archive(tmp_path, members: dict[str, bytes], name="personachat.tgz"):
    path = tmp_path / name
    with tarfile.open(path, "w:gz") as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path, sha256_of(path)


GOOD = {"personachat/train_both_original.txt": (RAW / "train_both_original.txt").read_bytes()}
# What the small test archives must hold (the real default is the 21 Persona-Chat files).
EXPECTED = {"train_both_original.txt": None}


@pytest.fixture(autouse=True)
def small_expected_files(monkeypatch):
    monkeypatch.setattr(download_module, "PERSONACHAT_FILES", EXPECTED)


def test_verified_extraction(tmp_path):
    archive, digest = _archive(tmp_path, GOOD)
    target = extract_verified(archive, tmp_path / "data", digest)
    assert (target / "train_both_original.txt").read_bytes() == GOOD[
        "personachat/train_both_original.txt"
    ]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["personachat"]
    with pytest.raises(DownloadError, match="already exists"):
        extract_verified(archive, tmp_path / "data", digest)
    extract_verified(archive, tmp_path / "data", digest, force=True)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["personachat"]


def test_checksum_mismatch_extracts_nothing(tmp_path):
    archive, _ = _archive(tmp_path, GOOD)
    with pytest.raises(DownloadError, match="SHA-256"):
        extract_verified(archive, tmp_path / "data", "0" * 64)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "members",
    [
        {"other/readme.txt": b"x"},
        {"../evil.txt": b"x", **GOOD},
        {"personachat/../../evil.txt": b"x", **GOOD},
    ],
)
def test_unsafe_or_wrong_archives_leave_no_directory(tmp_path, members):
    archive, digest = _archive(tmp_path, members)
    with pytest.raises(DownloadError):
        extract_verified(archive, tmp_path / "data", digest)
    assert list((tmp_path / "data").iterdir()) == []
    assert not (tmp_path / "evil.txt").exists()


def test_corrupt_archive_leaves_no_directory(tmp_path):
    archive, _ = _archive(tmp_path, GOOD)
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(DownloadError, match="cannot extract"):
        extract_verified(archive, tmp_path / "data", sha256_of(archive))
    assert list((tmp_path / "data").iterdir()) == []


def test_download_through_a_url(tmp_path):
    archive, digest = _archive(tmp_path, GOOD)
    target = download(tmp_path / "data", url=archive.as_uri(), sha256=digest)
    assert (target / "train_both_original.txt").is_file()
    assert not (tmp_path / "data" / ".personachat.tgz.part").exists()


def test_offline_failure_says_how_to_place_files(tmp_path, capsys):
    url = (tmp_path / "missing.tgz").as_uri()
    assert main(["--dest", str(tmp_path / "data"), "--url", url]) == 1
    err = capsys.readouterr().err
    assert "--archive personachat.tgz" in err and "dataset=synthetic" in err
    assert not (tmp_path / "data" / ".personachat.tgz.part").exists()


def test_cli_with_local_archive(tmp_path, capsys):
    archive, digest = _archive(tmp_path, GOOD)
    assert main(["--dest", str(tmp_path / "d"), "--archive", str(archive), "--sha256", digest]) == 0
    assert "dataset.data_dir=" in capsys.readouterr().out


def test_links_out_of_the_tree_are_refused(tmp_path):
    path = tmp_path / "personachat.tgz"
    with tarfile.open(path, "w:gz") as tar:
        link = tarfile.TarInfo("personachat/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(DownloadError, match="is a link or device; refused"):
        extract_verified(path, tmp_path / "data", sha256_of(path))
    assert list((tmp_path / "data").iterdir()) == []


def test_the_real_file_list_is_persona_chats_21_files_with_known_sizes():
    assert len(PERSONACHAT_FILES) == 21
    known = {name: value for name, value in PERSONACHAT_FILES.items() if value}
    assert sorted(known) == sorted(
        f"{s}_both_{v}.txt" for s in ("train", "valid", "test") for v in ("original", "revised")
    )
    assert known["valid_both_original.txt"] == (9_399_184, "1b5b19dfe56ad7b7966cb0df9599f260")


def test_an_archive_missing_files_is_refused_even_with_its_own_checksum(tmp_path):
    """A corrupted archive whose checksum the user passed: 1 of 2 expected files, refused;
    --force keeps the good extraction that was there."""
    archive, digest = _archive(tmp_path, GOOD)
    target = extract_verified(archive, tmp_path / "data", digest)
    expected = {**EXPECTED, "valid_both_original.txt": None}
    partial, partial_digest = _archive(tmp_path, GOOD, name="partial.tgz")
    with pytest.raises(DownloadError, match="1 of 2 expected files are missing"):
        extract_verified(partial, tmp_path / "data", partial_digest, force=True, expected=expected)
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["personachat"]
    assert (target / "train_both_original.txt").read_bytes() == GOOD[
        "personachat/train_both_original.txt"
    ]


def test_a_file_with_the_wrong_size_or_md5_is_refused(tmp_path):
    import hashlib

    data = GOOD["personachat/train_both_original.txt"]
    md5 = hashlib.md5(data).hexdigest()
    archive, digest = _archive(tmp_path, GOOD)
    right = {"train_both_original.txt": (len(data), md5)}
    assert extract_verified(archive, tmp_path / "ok", digest, expected=right).is_dir()
    for wrong in ((len(data) + 1, md5), (len(data), "0" * 32)):
        with pytest.raises(DownloadError, match="is not the expected file"):
            extract_verified(
                archive, tmp_path / "bad", digest, expected={"train_both_original.txt": wrong}
            )
        assert list((tmp_path / "bad").iterdir()) == []


@pytest.mark.parametrize(
    ("member", "message"),
    [("/tmp/evil.txt", "absolute path"), ("personachat/../../evil.txt", "escapes the folder")],
)
def test_absolute_or_escaping_members_are_refused_with_a_message(tmp_path, member, message):
    archive, digest = _archive(tmp_path, {member: b"x", **GOOD})
    with pytest.raises(DownloadError, match=message):
        extract_verified(archive, tmp_path / "data", digest)
    assert list((tmp_path / "data").iterdir()) == []
