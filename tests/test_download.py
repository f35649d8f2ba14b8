"""Checksum verification and atomic extraction, on archives made in the test (no network)."""

from __future__ import annotations

import io
import tarfile

import pytest

from personafuse.data.download import DownloadError, download, extract_verified, main, sha256_of

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
    with pytest.raises(DownloadError, match="cannot extract"):
        extract_verified(path, tmp_path / "data", sha256_of(path))
    assert list((tmp_path / "data").iterdir()) == []
