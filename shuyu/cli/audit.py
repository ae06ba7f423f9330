"""`shuyu audit …`: verify the hash-chained audit log, export it for an auditor."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated

import typer

from shuyu.audit import chain
from shuyu.audit.events import audit_event
from shuyu.audit.log import AuditLog
from shuyu.errors import InputError
from shuyu.fsutil import atomic_write_text, staged_directory
from shuyu.platform.layout import Layout
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database

app = typer.Typer(help="The audit log: verify, export.", no_args_is_help=True)

DbOption = Annotated[
    str,
    typer.Option(
        "--db", help="Database URL (default: $SHUYU_DB_URL, else the platform's state file)."
    ),
]


def database(url: str) -> Database:
    chosen = url or PlatformSettings.from_env().db_url or Layout.default().db_url
    return Database(chosen)


@app.command("verify")
def verify(db: DbOption = "") -> None:
    """Walk the whole chain: `OK: N events`, or the first event that was modified,
    deleted, inserted or reordered (exit 1)."""
    verdict = AuditLog(database(db)).verify()
    typer.echo(verdict.line())
    if not verdict.ok:
        raise typer.Exit(1)


@app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="Folder to write (replaced whole).")],
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601, inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="To this time (ISO 8601, exclusive).")] = None,
    db: DbOption = "",
) -> None:
    """Write events.jsonl, verify_audit.py (standard library only) and a manifest."""
    log = AuditLog(database(db))
    count, first_seq, first_prev, last_hash = 0, 0, chain.GENESIS, chain.GENESIS
    with staged_directory(out) as staging:
        with (staging / "events.jsonl").open("w", encoding="utf-8") as handle:
            for event in log.events(since=since, until=until):
                if count == 0:
                    first_seq, first_prev = int(event["seq"]), str(event["prev_hash"])
                handle.write(json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n")
                last_hash = str(event["hash"])
                count += 1
        if count == 0:
            raise InputError("--since/--until", "no events in this period")
        shutil.copy2(chain.__file__, staging / "verify_audit.py")
        manifest = {
            "events": count,
            "first_seq": first_seq,
            "first_prev_hash": first_prev,
            "last_hash": last_hash,
            "since": since,
            "until": until,
            "verify": f"python3 verify_audit.py events.jsonl {first_prev} {first_seq}",
        }
        atomic_write_text(staging / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    audit_event("audit.export", "platform", "allowed", events=count, since=since, until=until)
    typer.echo(f"{count} events → {out} (check: cd {out} && {manifest['verify']})")
