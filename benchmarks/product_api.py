# ruff: noqa: PLC0415 - each process imports what it runs (the shuyu server: no torch, no MLflow)
"""The product API against MLflow's own model serving, same ONNX model, same load.

On loopback only, bounded in requests and time. The model is a real bank_credit model:
demo data generated, masked and viewed by the platform's pipeline (`BENCH_SCALE`
enterprises), trained with DP-SGD by `shuyu.train` and exported to ONNX.

- shuyu:  `products_router` in uvicorn (one worker, 127.0.0.1), every check on: the API
          key (keyed hash), the agreement (validity, purpose), the quota counted in the
          database, the identifier pseudonymised with the masking key, the subject's
          masked features looked up, the approved model (its approval record's signature
          and sha256 checked at start) scoring the subject and one row per factor,
          labels, one audit event per call through the buffered, hash-chained writer
          (SQLite, WAL), and the 事中检查 rules on every call (their limits set above
          this load, so that it is judged and not blocked). A request names one
          enterprise by its credit code.
- mlflow: `mlflow models serve --env-manager local` (one uvicorn worker) of the same
          ONNX model saved with `mlflow.onnx` and a signature. A request carries that
          enterprise's model inputs (what a consumer would have to hold to use it).

One load generator for both: a keep-alive HTTP/1.1 client on asyncio, the requests
pre-encoded. Saturation: `BENCH_CONCURRENCY` connections, closed loop, `BENCH_REQUESTS`
requests, best of `BENCH_ROUNDS` interleaved rounds. Paced: 200 requests/s for
`BENCH_PACED_SECONDS` s, latency from each request's scheduled time (no coordinated
omission). Then: zero errors required, the audit log's `product.score` events equal
the calls shuyu answered, and `AuditLog.verify()` proves the chain.

Last line: `ratio=X.XX` = MLflow's throughput / shuyu's (goal ≤ 1.0), with p99 at 200
requests/s ≤ 50 ms.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCALE = int(os.environ.get("BENCH_SCALE", "1500"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "3000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
RATE = 200
PACED_SECONDS = float(os.environ.get("BENCH_PACED_SECONDS", "10"))
TIME_LIMIT = float(os.environ.get("BENCH_TIME_LIMIT", "1200"))
SUBJECTS = 800  # distinct enterprises asked about, cycled (a bank's customer book)
PRODUCT = "enterprise_credit"
MASKING_KEY = bytes(range(32))
APPROVAL_KEY = b"benchmark-approval-key-0123456789abcdef"
PEPPER = b"benchmark-pepper-0123456789abcdef"
STARTED = time.monotonic()


def left() -> float:
    remaining = TIME_LIMIT - (time.monotonic() - STARTED)
    if remaining <= 0:
        raise SystemExit(f"benchmark exceeded its time limit of {TIME_LIMIT:.0f} s")
    return remaining


# ---------------------------------------------------------------- preparing


def bench_products(policies: Any) -> Any:
    """The shipped policy's credit product, with the night rule's limit above this
    benchmark's load (it may run at night in 宿州); the other rules as shipped."""
    from shuyu.products.policy import load_products_policy

    products = load_products_policy(policies)
    monitoring = products.monitoring
    assert monitoring.night_calls is not None
    return products.model_copy(
        update={
            "products": [p for p in products.products if p.id == PRODUCT],
            "monitoring": monitoring.model_copy(
                update={
                    "night_calls": monitoring.night_calls.model_copy(
                        update={"max_subjects": 10**9}
                    ),
                }
            ),
        }
    )


def registered_files(product: Any, proto: Any) -> tuple[dict[str, bytes], dict[str, str]]:
    """The files and version tags of the version the registry gate would register
    after approval: the gate's digests and the review's signed record."""
    from shuyu.registry.approval import ApprovalRecord, LevelApproval, approval_tags
    from shuyu.registry.digests import DIGESTS_TAG, encode, sha256_bytes

    files = {"model.onnx": proto.SerializeToString(), "MLmodel": b"flavors:\n  onnx: {}\n"}
    digests = {name: sha256_bytes(data) for name, data in files.items()}
    scenario, _, partner = product.model.partition(".")
    record = ApprovalRecord(
        submission_id="bench-0001",
        scenario=scenario,
        partner=partner,
        submitter="sz-credit",
        model_name=product.model,
        run_id="0" * 32,
        levels=[
            LevelApproval(level=level, name=level, reviewers=[(f"rv-{level}", "2026-07-01")])
            for level in ("provider", "expert", "bureau")
        ],
        report_sha256="1" * 64,
        notebook_sha256="2" * 64,
        model_digests=digests,
        privacy="certified",
    )
    return files, {**approval_tags(record, APPROVAL_KEY), DIGESTS_TAG: encode(digests)}


def prepare(work: Path) -> dict[str, Any]:
    import mlflow.onnx
    import pandas as pd  # type: ignore[import-untyped]
    import polars as pl
    from mlflow.models import infer_signature

    from shuyu.data.masking.pseudonym import Pseudonymiser
    from shuyu.data.pipeline import build_demo_views
    from shuyu.onnx_model import OnnxModel
    from shuyu.policy import load_policies
    from shuyu.products.accounts import AgreementSpec, ConsumerSpec, ProductAccounts
    from shuyu.products.admins import Admin
    from shuyu.products.feature_table import (
        SUBJECT_COLUMN,
        build_feature_table,
        write_feature_table,
    )
    from shuyu.products.keys import KeyHasher
    from shuyu.store.database import Database
    from shuyu.train.export import to_onnx
    from shuyu.train.private import fit
    from shuyu.train.view import load_view

    policies = load_policies()
    products = bench_products(policies)
    product = products.product(PRODUCT)
    started = time.perf_counter()
    build_demo_views(work, policies, key=MASKING_KEY, scale=SCALE, seed=7, scenario="bank_credit")
    view = load_view(work / "views" / "bank_credit")
    result = fit(view, epochs=3, threads=2, evaluate_each_epoch=False)
    proto = to_onnx(result)
    print(
        f"model: bank_credit TabularMLP, DP ε={result.privacy.epsilon:.2f}, "  # type: ignore[union-attr]
        f"{len(proto.graph.input)} inputs, {view.frame.height} training rows "
        f"({time.perf_counter() - started:.0f} s to build data and train)"
    )

    table, manifest = build_feature_table(work / "masked", policies, product)
    write_feature_table(work / "tables", table, manifest)
    files, tags = registered_files(product, proto)
    registry = work / "registry"
    registry.mkdir()
    for name, data in files.items():
        (registry / name).write_bytes(data)
    (registry / "tags.json").write_text(json.dumps(tags), encoding="utf-8")
    (work / "products.json").write_text(products.model_dump_json(), encoding="utf-8")

    # the same model for MLflow, with a signature so that its inputs keep their types
    model = OnnxModel(proto)
    sample = pd.DataFrame(
        {k: v for k, v in model.inputs(table.head(200).drop(SUBJECT_COLUMN)).items()}
    )
    mlflow.onnx.save_model(proto, str(work / "mlflow-model"), signature=infer_signature(sample))

    # a consumer with a key and an agreement that this load fits in
    db = Database(f"sqlite:///{work / 'state.sqlite'}")
    db.upgrade()
    admin = Admin("admin")
    accounts = ProductAccounts(
        db, policies=lambda: policies, products=lambda: products, hasher=KeyHasher(PEPPER)
    )
    accounts.create_consumer(
        admin, ConsumerSpec(id="suzhou_rcb", name="宿州农商行", name_en="Bank", kind="bank")
    )
    accounts.set_agreement(
        admin,
        AgreementSpec(
            consumer_id="suzhou_rcb",
            product=PRODUCT,
            purposes=["pre_loan_review"],
            valid_from=dt.date(2026, 7, 1),
            valid_until=dt.date(2029, 6, 30),
            daily_quota=10**8,
            monthly_quota=10**9,
            price_fen=50,
            regions=["341300", "150600"],
        ),
    )
    token = accounts.issue_key(admin, "suzhou_rcb").token
    db.dispose()

    # the subjects: enterprises of the raw register that the masked zone holds
    raw = pl.read_parquet(work / "raw" / "enterprise_basic.parquet", columns=["uscc"])
    codes = raw["uscc"].to_list()
    pseudonyms = Pseudonymiser(MASKING_KEY).pseudonyms("enterprise", codes)
    rows = {s: i for i, s in enumerate(table[SUBJECT_COLUMN].to_list())}
    chosen = [(c, rows[p]) for c, p in zip(codes, pseudonyms, strict=True) if p in rows][:SUBJECTS]
    features = table.drop(SUBJECT_COLUMN)
    inputs = model.inputs(features[[r for _, r in chosen]])
    names = list(inputs)
    shuyu_bodies, mlflow_bodies = [], []
    for i, (code, _row) in enumerate(chosen):
        shuyu_bodies.append(
            json.dumps({"purpose": "pre_loan_review", "subject": {"id": code}}).encode()
        )
        values = [
            None if (v := inputs[n][i].item()) != v else v  # NaN → null
            for n in names
        ]
        mlflow_bodies.append(
            json.dumps({"dataframe_split": {"columns": names, "data": [values]}}).encode()
        )
    return {"token": token, "shuyu": shuyu_bodies, "mlflow": mlflow_bodies}


# ---------------------------------------------------------------- the shuyu server


def serve_shuyu(work: Path, port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    from shuyu.audit.events import install_sink
    from shuyu.policy import load_policies
    from shuyu.policy.models import ProductsPolicy
    from shuyu.products.api import products_router
    from shuyu.products.approved_model import approved_model
    from shuyu.products.keys import KeyHasher
    from shuyu.products.service import build_product_service
    from shuyu.registry.approved import VerifiedModel
    from shuyu.store.database import Database
    from shuyu.tracking.store_client import ModelVersion

    policies = load_policies()
    products = ProductsPolicy.model_validate_json((work / "products.json").read_text())
    registry = work / "registry"
    tags = json.loads((registry / "tags.json").read_text())
    files = {name: (registry / name).read_bytes() for name in ("model.onnx", "MLmodel")}

    def models(product: Any) -> Any:
        version = ModelVersion(product.model, "1", "mlflow-artifacts:/1/x", "f" * 32, tags, [])
        return approved_model(
            VerifiedModel(version, files), product=product, approval_key=APPROVAL_KEY
        )

    url = f"sqlite:///{work / 'state.sqlite'}"
    install_sink(url)
    service = build_product_service(
        Database(url),
        policies=lambda: policies,
        products=products,
        hasher=KeyHasher(PEPPER),
        masking_key=MASKING_KEY,
        tables=work / "tables",
        models=models,
    )
    served = service.gateway.served[PRODUCT]
    assert served.scorer is not None, served.unavailable
    app = FastAPI()
    app.include_router(products_router(service.gateway))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info")


# ---------------------------------------------------------------- the load generator


@dataclass
class Run:
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length)
    return status, body


def _request(port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _ok(server: str, status: int, body: bytes) -> bool:
    if status != 200:
        return False
    if server == "shuyu":
        return b'"ok":true' in body and b'"score":' in body
    return b'"predictions"' in body and b"NaN" not in body


async def closed_loop(server: str, port: int, requests: list[bytes], total: int, conns: int) -> Run:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in counter:
            started = time.perf_counter()
            status, body = await _exchange(reader, writer, requests[i % len(requests)])
            latencies.append(time.perf_counter() - started)
            errors += not _ok(server, status, body)
        writer.close()

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(conns))), timeout=left())
    return Run(time.perf_counter() - started, latencies, errors)


async def paced(server: str, port: int, requests: list[bytes], rate: float, seconds: float) -> Run:
    """Requests due at a fixed rate; each one's latency counts from when it was due."""
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    start = time.perf_counter() + 0.1

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while True:
            i = await queue.get()
            if i < 0:
                break
            status, body = await _exchange(reader, writer, requests[i % len(requests)])
            latencies.append(time.perf_counter() - (start + i / rate))
            errors += not _ok(server, status, body)
        writer.close()

    workers = [asyncio.create_task(worker()) for _ in range(32)]
    for i in range(total):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(i)
    for _ in workers:
        queue.put_nowait(-1)
    await asyncio.wait_for(asyncio.gather(*workers), timeout=left())
    return Run(time.perf_counter() - start, latencies, errors)


# ---------------------------------------------------------------- running it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + min(180, left())
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{what} exited with {process.returncode} before answering")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{what} did not start in time")


def stop(process: subprocess.Popen[bytes]) -> None:
    """End the server and whatever it started (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


def audit_count(work: Path) -> tuple[int, str]:
    from shuyu.audit.log import AuditLog
    from shuyu.store.database import Database

    db = Database(f"sqlite:///{work / 'state.sqlite'}")
    try:
        with db.engine.connect() as connection:
            count = connection.exec_driver_sql(
                "SELECT count(*) FROM audit_events WHERE action = 'product.score'"
            ).scalar()
        return int(count or 0), AuditLog(db).verify().line()
    finally:
        db.dispose()


def line(name: str, run: Run) -> str:
    return (
        f"{name:<7} {run.throughput:8.1f} req/s  p50 {run.quantile(0.5):6.2f} ms  "
        f"p99 {run.quantile(0.99):6.2f} ms  errors {run.errors}  ({len(run.latencies)} requests)"
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="shuyu-bench-products.") as tmp:
        work = Path(tmp)
        prepared = prepare(work)
        ports = {"shuyu": free_port(), "mlflow": free_port()}
        logs = {name: (work / f"{name}.log").open("wb") for name in ports}
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        servers = {
            "shuyu": subprocess.Popen(
                [sys.executable, __file__, "serve-shuyu", str(work), str(ports["shuyu"])],
                stdout=logs["shuyu"], stderr=subprocess.STDOUT, start_new_session=True, env=env,
            ),
            "mlflow": subprocess.Popen(
                [sys.executable, "-m", "mlflow", "models", "serve", "-m",
                 str(work / "mlflow-model"), "--env-manager", "local", "-h", "127.0.0.1",
                 "-p", str(ports["mlflow"])],
                stdout=logs["mlflow"], stderr=subprocess.STDOUT, start_new_session=True, env=env,
            ),
        }  # fmt: skip
        try:
            for name, process in servers.items():
                wait_ready(ports[name], process, name)
            requests = {
                "shuyu": [
                    _request(ports["shuyu"], f"/api/v1/products/{PRODUCT}/score", body,
                             {"Authorization": f"Bearer {prepared['token']}"})
                    for body in prepared["shuyu"]
                ],
                "mlflow": [
                    _request(ports["mlflow"], "/invocations", body, {})
                    for body in prepared["mlflow"]
                ],
            }  # fmt: skip
            calls = 0
            for name in servers:  # warm-up: imports, first sessions, caches
                warm = asyncio.run(closed_loop(name, ports[name], requests[name], 200, CONCURRENCY))
                if warm.errors:
                    raise SystemExit(f"{name}: {warm.errors} errors in the warm-up; see its log")
                calls += 200 if name == "shuyu" else 0
            best: dict[str, Run] = {}
            for _ in range(ROUNDS):
                for name in servers:
                    run = asyncio.run(
                        closed_loop(name, ports[name], requests[name], REQUESTS, CONCURRENCY)
                    )
                    calls += REQUESTS if name == "shuyu" else 0
                    if name not in best or run.throughput > best[name].throughput:
                        best[name] = run
            steady = {
                name: asyncio.run(paced(name, ports[name], requests[name], RATE, PACED_SECONDS))
                for name in servers
            }
            calls += int(RATE * PACED_SECONDS)
        finally:
            for process in servers.values():
                stop(process)
            for log in logs.values():
                log.close()
        events, verdict = audit_count(work)

    print(f"saturation: {CONCURRENCY} connections, best of {ROUNDS} rounds of {REQUESTS} requests")
    for name in ("shuyu", "mlflow"):
        print(line(name, best[name]))
    print(f"paced: {RATE} requests/s for {PACED_SECONDS:.0f} s")
    for name in ("shuyu", "mlflow"):
        print(line(name, steady[name]))
    errors = sum(r.errors for r in (*best.values(), *steady.values()))
    print(f"errors={errors}")
    print(f"audit: {events} product.score events for {calls} shuyu calls; chain {verdict}")
    if events != calls:
        print("audit events != calls")
    ratio = best["mlflow"].throughput / best["shuyu"].throughput
    print(f"ratio={ratio:.2f}")
    return 0 if errors == 0 and events == calls else 1


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve-shuyu":
        serve_shuyu(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        raise SystemExit(main())
