"""The platform's own files an exit deletes: the outbox copies of the partner's
production runs (`<outbox>/<scenario>/<run>`) and the production files kept beside its
jobs and runs (`<files>/jobs/<job>`, `<files>/runs/<run>`). Each file is read for its
sha256 before it goes."""

from __future__ import annotations

import shutil
from pathlib import Path

from shuyu.governance.exit_mlflow import local_python
from shuyu.governance.exit_parts import TREE_LISTING, FileEntry, parse_listing


class StateFiles:
    def __init__(self, outbox: Path, files: Path) -> None:
        self.outbox = outbox
        self.files = files

    def outbox_folder(self, scenario: str, run_id: str) -> Path:
        return self.outbox / scenario / run_id

    def job_folders(self, job_ids: list[str], run_ids: list[str]) -> list[Path]:
        return [self.files / "jobs" / j for j in job_ids] + [
            self.files / "runs" / r for r in run_ids
        ]

    @staticmethod
    def listing(folder: Path) -> list[FileEntry]:
        """Every file under `folder` (paths as absolute), by the one tree listing."""
        if not folder.is_dir():
            return []
        entries = parse_listing(local_python()(["-c", TREE_LISTING, str(folder)]))
        return [FileEntry(str(folder / e.path), e.size, e.sha256) for e in entries]

    @staticmethod
    def remove(folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=False) if folder.exists() else None

    @staticmethod
    def exists(path: str) -> bool:
        return Path(path).exists() or Path(path).is_symlink()
