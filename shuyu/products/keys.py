"""API keys: `sy_<id>_<secret>`, shown once, stored as the id and a keyed hash.

The id (12 hex digits) is public: it names the key in the database, the audit log and
the cases. The secret is 32 random bytes (base64url). What is stored is
HMAC-SHA256(pepper, id ":" secret), the pepper being a server secret kept in a file
outside the database (`KEY_PEPPER` in the service's secrets directory).

Why a keyed fast hash and not scrypt or argon2: a slow hash protects secrets people
choose, which can be guessed; these secrets are 256 random bits, which cannot, so a
slow hash would add nothing against guessing while costing tens of milliseconds on
every call (the API's whole latency budget). The pepper is what a dump of the database
alone does not contain: without it a stolen hash cannot even be checked against a
candidate key. Verification compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from shuyu.errors import ShuyuError
from shuyu.secrets import ensure_secret, read_secret

KEY_PEPPER = "products_key_pepper"
"""File name of the pepper in the service's secrets directory (the CLI on the host reads
the same file under var/secrets/service/)."""

PREFIX = "sy"
_ID_BYTES = 6
_SECRET_BYTES = 32
_SHAPE = re.compile(r"^sy_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class IssuedKey:
    """A new key: `token` is shown to the administrator once and never stored."""

    key_id: str
    token: str
    secret_hash: str


class KeyHasher:
    def __init__(self, pepper: bytes) -> None:
        if len(pepper) < 16:
            raise ShuyuError("the API key pepper is too short (need at least 16 bytes)")
        self._pepper = pepper

    @classmethod
    def from_file(cls, path: Path, *, create: bool = False) -> KeyHasher:
        """The pepper in `path` (created once, mode 0600, when `create`)."""
        value = ensure_secret(path, nbytes=32) if create else read_secret(path)
        return cls(value.encode("utf-8"))

    def hash(self, key_id: str, secret: str) -> str:
        message = f"{key_id}:{secret}".encode("ascii")
        return hmac.new(self._pepper, message, hashlib.sha256).hexdigest()

    def issue(self) -> IssuedKey:
        key_id = secrets.token_hex(_ID_BYTES)
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        return IssuedKey(key_id, f"{PREFIX}_{key_id}_{secret}", self.hash(key_id, secret))

    def matches(self, key_id: str, secret: str, stored_hash: str) -> bool:
        return hmac.compare_digest(self.hash(key_id, secret), stored_hash)


def parse(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    match = _SHAPE.match(token.strip())
    return (match.group(1), match.group(2)) if match else None
