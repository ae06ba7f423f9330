"""The audit log shows any tampering: each kind is an attack on the stored rows (as a
database administrator with write access would make it), and `verify` names the first
event concerned. The export's script verifies without shuyu installed."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete, update
from typer.testing import CliRunner

from shuyu.audit import events as audit_events
from shuyu.audit.chain import FIELDS, event_hash
from shuyu.audit.log import AuditEvent, AuditLog, BufferedAuditWriter
from shuyu.audit.tables import AuditEventRow
from shuyu.cli.main import app, main
from shuyu.store.database import Database

E = AuditEventRow


def _event(n: int, actor: str = "sz-credit") -> AuditEvent:
    return AuditEvent(
        ts=f"2026-12-01T10:{n // 60:02d}:{n % 60:02d}.000+00:00",
        actor=actor,
        role="partners",
        action="sandbox.spawn",
        target=f"server-{n}",
        outcome="allowed",
        details={"n": n, "说明": "启动沙箱"},
    )


def _filled(database: Database, count: int = 10) -> AuditLog:
    log = AuditLog(database)
    log.append([_event(n) for n in range(1, count + 1)])
    return log


def test_an_untouched_log_verifies(database: Database) -> None:
    log = _filled(database)
    verdict = log.verify()
    assert verdict.ok
    assert verdict.count == 10
    assert verdict.line() == "OK: 10 events"


def test_batches_chain_onto_each_other(database: Database) -> None:
    log = _filled(database, 3)
    assert log.append([_event(4), _event(5)]) == 5
    assert log.verify().line() == "OK: 5 events"


def test_a_modified_detail_is_found(database: Database) -> None:
    log = _filled(database)
    with database.engine.begin() as connection:
        connection.execute(update(E).where(E.seq == 4).values(details='{"n":999}'))
    verdict = log.verify()
    assert not verdict.ok
    assert (verdict.first_bad_seq, verdict.kind) == (4, "modified")


def test_a_modified_outcome_is_found_even_when_its_hash_is_recomputed(
    database: Database,
) -> None:
    """Rewriting an event and its own hash moves the break to the next event."""
    log = _filled(database)
    with database.engine.begin() as connection:
        row = dict(connection.execute(E.__table__.select().where(E.seq == 6)).mappings().one())
        row["outcome"] = "denied"
        connection.execute(
            update(E).where(E.seq == 6).values(outcome="denied", hash=event_hash(row))
        )
    verdict = log.verify()
    assert (verdict.first_bad_seq, verdict.kind) == (7, "inserted or reordered")


def test_a_deleted_event_is_found(database: Database) -> None:
    log = _filled(database)
    with database.engine.begin() as connection:
        connection.execute(delete(E).where(E.seq == 5))
    verdict = log.verify()
    assert (verdict.first_bad_seq, verdict.kind) == (5, "deleted")


def test_deleting_the_newest_events_is_found_against_an_exported_head(
    database: Database, tmp_path: Path
) -> None:
    """Truncating the tail leaves a valid chain: what catches it is the head an
    auditor kept from an earlier export (its manifest's last hash and count)."""
    log = _filled(database)
    out = tmp_path / "export"
    result = CliRunner().invoke(app, ["audit", "export", "--out", str(out), "--db", database.url])
    assert result.exit_code == 0, result.output
    kept = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    with database.engine.begin() as connection:
        connection.execute(delete(E).where(E.seq >= 9))
    assert log.count() == 8 < kept["events"]
    hashes = {event["hash"] for event in log.events()}
    assert kept["last_hash"] not in hashes


def test_an_inserted_event_is_found(database: Database) -> None:
    """An event slipped in between 3 and 4 (renumbering the rest) breaks at the insert."""
    log = _filled(database)
    with database.engine.begin() as connection:
        rows = [
            dict(r) for r in connection.execute(E.__table__.select().order_by(E.seq)).mappings()
        ]
        connection.execute(delete(E))
        forged = dict(rows[2], seq=4, target="forged", prev_hash=rows[2]["hash"])
        forged["hash"] = "f" * 64
        renumbered = [dict(r, seq=r["seq"] + 1) for r in rows[3:]]
        connection.execute(E.__table__.insert(), [*rows[:3], forged, *renumbered])
    verdict = log.verify()
    assert verdict.first_bad_seq == 4
    assert verdict.kind == "modified"


def test_two_swapped_events_are_found(database: Database) -> None:
    log = _filled(database)
    with database.engine.begin() as connection:
        rows = {
            r["seq"]: dict(r)
            for r in connection.execute(E.__table__.select().where(E.seq.in_([4, 5]))).mappings()
        }
        connection.execute(delete(E).where(E.seq.in_([4, 5])))
        connection.execute(E.__table__.insert(), [dict(rows[5], seq=4), dict(rows[4], seq=5)])
    verdict = log.verify()
    assert (verdict.first_bad_seq, verdict.kind) == (4, "inserted or reordered")


def test_an_unknown_action_is_not_written() -> None:
    with pytest.raises(ValueError, match=r"unknown audit action 'sandbox\.spwan'"):
        audit_events.audit_event("sandbox.spwan", "sz-credit", "allowed")
    with pytest.raises(ValueError):
        audit_events.audit_event("sandbox.spawn", "sz-credit", "maybe")


def test_events_from_many_threads_form_one_chain(database: Database) -> None:
    log = AuditLog(database)
    writer = BufferedAuditWriter(log, flush_seconds=0.01, max_batch=50)
    threads = [
        threading.Thread(target=lambda k=k: [writer.put(_event(k * 100 + n)) for n in range(100)])
        for k in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    assert log.verify().line() == "OK: 400 events"


def test_an_installed_sink_appends_the_process_events(database: Database) -> None:
    audit_events.install_sink(database.url)
    try:
        audit_events.audit_event("hub.login", "rv-bureau", "denied", role="reviewers", why="pw")
    finally:
        audit_events.flush_sink()
    (event,) = list(AuditLog(database).events())
    assert (event["actor"], event["action"], event["outcome"]) == (
        "rv-bureau",
        "hub.login",
        "denied",
    )
    assert json.loads(event["details"]) == {"why": "pw"}


def test_cli_verify_names_the_first_tampered_event(database: Database) -> None:
    _filled(database)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--db", database.url])
    assert ok.exit_code == 0
    assert "OK: 10 events" in ok.output
    with database.engine.begin() as connection:
        connection.execute(update(E).where(E.seq == 2).values(actor="someone-else"))
    broken = runner.invoke(app, ["audit", "verify", "--db", database.url])
    assert broken.exit_code == 1
    assert "BROKEN at event 2: modified" in broken.output


def test_an_export_verifies_with_the_standard_library_alone(
    database: Database, tmp_path: Path
) -> None:
    """The auditor runs the exported script with an isolated interpreter (-I, no
    site-packages, no shuyu) over a period in the middle of the log."""
    _filled(database, 120)
    out = tmp_path / "export"
    result = CliRunner().invoke(
        app,
        [
            "audit", "export", "--out", str(out), "--db", database.url,
            "--since", "2026-12-01T10:00:30", "--until", "2026-12-01T10:01:30",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["events"] == 60
    assert manifest["first_seq"] == 30
    command = [sys.executable, "-I", "-S", "verify_audit.py", "events.jsonl"]
    command += [manifest["first_prev_hash"], str(manifest["first_seq"])]
    checked = subprocess.run(command, cwd=out, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == "OK: 60 events"

    # the auditor's copy edited: the same script says where
    lines = (out / "events.jsonl").read_text(encoding="utf-8").splitlines()
    tampered = json.loads(lines[10])
    tampered["outcome"] = "allowed" if tampered["outcome"] == "denied" else "denied"
    lines[10] = json.dumps(tampered, ensure_ascii=False)
    (out / "events.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    checked = subprocess.run(command, cwd=out, capture_output=True, text=True, check=False)
    assert checked.returncode == 1
    assert checked.stdout.startswith("BROKEN at event 40: modified")


def test_an_empty_period_is_a_clear_error(
    database: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _filled(database)
    argv = ["audit", "export", "--out", str(tmp_path / "x"), "--db", database.url]
    assert main([*argv, "--since", "2030-01-01"]) == 2
    assert "--since/--until: no events in this period" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@given(
    seq=st.integers(min_value=1, max_value=2**53),
    texts=st.lists(st.text(), min_size=8, max_size=8),
)
def test_an_event_hash_is_sha256_over_its_canonical_json(seq: int, texts: list[str]) -> None:
    """What the export's README promises an auditor: any JSON library reproduces it."""
    event = dict(zip(FIELDS, [seq, *texts], strict=True))
    expected = json.dumps(
        [seq, *texts], ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode("utf-8")
    assert event_hash(event) == hashlib.sha256(expected).hexdigest()
