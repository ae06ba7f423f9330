"""Spawn blocks the hub keeps across restarts: a user whose session was cut for sending
too much to the browser, a workspace over its quota.

Kept in a small JSON file in the hub's state volume, written atomically; a block either
ends at its time (`until`) or when the hub's check finds its cause gone.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from shuyu.fsutil import atomic_write_text


@dataclass(frozen=True)
class SpawnBlock:
    kind: str  # "egress" | "quota"
    zh: str
    en: str
    until: float | None = None  # time.time(); None: until its cause is gone


def block_key(username: str, scenario_id: str | None = None) -> str:
    return f"{username}/{scenario_id}" if scenario_id else username


class SpawnBlocks:
    def __init__(self, path: Path, blocks: dict[str, SpawnBlock]) -> None:
        self.path = path
        self._blocks = blocks
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | Path) -> SpawnBlocks:
        target = Path(path)
        blocks: dict[str, SpawnBlock] = {}
        try:
            raw = json.loads(target.read_text(encoding="utf-8"))
            blocks = {k: SpawnBlock(**v) for k, v in raw.items()}
        except FileNotFoundError:
            pass
        except (ValueError, TypeError):
            # a damaged file blocks nobody but is not silently lost: kept aside
            target.replace(target.with_suffix(".damaged"))
        return cls(target, blocks)

    def _save(self) -> None:
        text = json.dumps({k: asdict(v) for k, v in sorted(self._blocks.items())}, indent=1)
        atomic_write_text(self.path, text + "\n", mode=0o600)

    def set(self, key: str, block: SpawnBlock) -> None:
        with self._lock:
            self._blocks[key] = block
            self._save()

    def clear(self, key: str) -> None:
        with self._lock:
            if self._blocks.pop(key, None) is not None:
                self._save()

    def active(self, *keys: str) -> SpawnBlock | None:
        """The first block in force among `keys`; expired ones are dropped."""
        now = time.time()
        with self._lock:
            expired = [k for k, b in self._blocks.items() if b.until is not None and b.until < now]
            for key in expired:
                del self._blocks[key]
            if expired:
                self._save()
            for key in keys:
                if key in self._blocks:
                    return self._blocks[key]
        return None

    def keys(self, kind: str) -> list[str]:
        with self._lock:
            return [k for k, b in self._blocks.items() if b.kind == kind]
