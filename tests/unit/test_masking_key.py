"""The masking key: created once, private to its owner, refused when it could leak."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shuyu.cli.main import main
from shuyu.data.masking.key import KEY_FILE_ENV, generate_key_file, read_key
from shuyu.errors import InputError


def test_keygen_writes_32_random_bytes_as_hex_readable_only_by_the_owner(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "masking.key"
    assert main(["data", "keygen", "--out", str(path)]) == 0
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(bytes.fromhex(path.read_text().strip())) == 32
    other = tmp_path / "other.key"
    generate_key_file(other)
    assert read_key(path) != read_key(other)


def test_keygen_never_overwrites_a_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "masking.key"
    generate_key_file(path)
    before = path.read_bytes()
    assert main(["data", "keygen", "--out", str(path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_the_key_file_is_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "masking.key"
    generate_key_file(path)
    monkeypatch.setenv(KEY_FILE_ENV, str(path))
    assert read_key() == bytes.fromhex(path.read_text())


def test_mask_without_the_variable_says_how_to_set_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    code = main(["data", "mask", "--raw", str(tmp_path), "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 2
    assert KEY_FILE_ENV in err
    assert "keygen" in err
    assert not (tmp_path / "m").exists()


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"not found.*keygen"):
        read_key(tmp_path / "absent.key")


def test_a_key_readable_by_others_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "masking.key"
    generate_key_file(path)
    os.chmod(path, 0o644)
    with pytest.raises(InputError, match=r"0644.*chmod 600"):
        read_key(path)


def test_a_short_or_garbled_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    short = tmp_path / "short.key"
    short.write_text("ab" * 16)
    short.chmod(0o600)
    with pytest.raises(InputError, match=r"too short: 16 bytes"):
        read_key(short)
    garbled = tmp_path / "garbled.key"
    garbled.write_text("secret-value-not-hex")
    garbled.chmod(0o600)
    with pytest.raises(InputError) as raised:
        read_key(garbled)
    assert "secret-value" not in str(raised.value)
