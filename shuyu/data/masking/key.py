"""The masking key: 32 random bytes, hex, in a file only the platform can read.

The key turns identifiers into pseudonyms; whoever holds it can recompute them from raw
values, so it lives in one file of mode 0600 (`var/secrets/masking.key` by default),
named by `SHUYU_MASKING_KEY_FILE`, and is never logged, copied or mounted in a sandbox.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from shuyu.errors import InputError

KEY_FILE_ENV = "SHUYU_MASKING_KEY_FILE"
KEY_BYTES = 32
_KEYGEN_HINT = "create one with `shuyu data keygen --out var/secrets/masking.key`"


def generate_key_file(path: Path) -> None:
    """Write a fresh key to `path` (mode 0600); an existing file is never overwritten,
    because replacing the key silently breaks every join with older masked data."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        raise InputError(
            str(path),
            "a key file already exists here and is not overwritten (已存在密钥文件，不会覆盖)",
            hint="keep it, or move it away deliberately before generating a new key",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (secrets.token_hex(KEY_BYTES) + "\n").encode("ascii")
    # O_EXCL: a file that appears between the check and the write is not clobbered;
    # the mode is set at creation so the key is never readable by others, even briefly
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(str(path), "a key file already exists here") from None
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)


def key_file_from_env() -> Path:
    from shuyu.settings import HostSettings  # noqa: PLC0415

    value = HostSettings.from_env().masking_key_file
    if not value:
        raise InputError(
            KEY_FILE_ENV,
            "not set: masking needs the key file's path (未设置脱敏密钥文件路径)",
            hint=f"export {KEY_FILE_ENV}=/path/to/masking.key; {_KEYGEN_HINT}",
        )
    return Path(value)


def read_key(path: Path | None = None) -> bytes:
    """The key from `path` (default: the file named by `$SHUYU_MASKING_KEY_FILE`)."""
    path = key_file_from_env() if path is None else Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InputError(
            str(path), "masking key file not found (脱敏密钥文件不存在)", hint=_KEYGEN_HINT
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(str(path), "masking key is not a regular file", hint=_KEYGEN_HINT)
    if info.st_mode & 0o077:
        raise InputError(
            str(path),
            f"masking key file is readable by others (mode {stat.S_IMODE(info.st_mode):04o}; "
            "密钥文件权限过宽)",
            hint=f"run `chmod 600 {path}`",
        )
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        # never echo the content: it is (or resembles) the secret
        raise InputError(
            str(path), "masking key file is not hex (密钥格式错误)", hint=_KEYGEN_HINT
        ) from None
    if len(key) < KEY_BYTES:
        raise InputError(
            str(path),
            f"masking key is too short: {len(key)} bytes, need {KEY_BYTES} (密钥过短)",
            hint=_KEYGEN_HINT,
        )
    return key
