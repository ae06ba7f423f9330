"""Packages brought into the domain, against the real engine and the real platform.

The registry the host fetches from is a stand-in the test starts on loopback (pypiserver
over wheels and an sdist made here). An approved request is downloaded for the sandbox
image's Python, checked and published to the packages volume; an sdist-only package and
a request that pulls in a denylisted dependency are refused and publish nothing. Then,
from inside a real sandbox as the partner: the approved package installs from the
in-domain index and imports; an unapproved one fails with where to ask; the index is
the one new port (its other ports are closed), and it takes no upload.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import make_server

import pytest

from shuyu import docker_engine
from shuyu.audit import events as audit_events
from shuyu.packages.desk import PackageAsk, PackageDesk, PackageView
from shuyu.packages.fetch import fetch_one
from shuyu.packages.index_server import index_app
from shuyu.packages.sets import set_token
from shuyu.packages.states import PackageState
from shuyu.platform import host_worker
from shuyu.platform.layout import Layout
from shuyu.policy import load_policies
from shuyu.review.service import Principal
from shuyu.settings import PlatformSettings
from shuyu.store.database import Database
from tests.integration.containers import exec_in, python_in
from tests.integration.egress import probe
from tests.integration.platform_fixture import RunningPlatform
from tests.wheels import make_sdist, make_wheel

pytestmark = pytest.mark.integration

POLICIES = load_policies()
PARTNER = Principal("sz-credit", frozenset({"partners"}))
HEALTH = Principal("hi-underwriter", frozenset({"partners"}))
ADMIN = Principal("admin", frozenset({"admins"}))
SETTINGS = PlatformSettings(project="pkgtest")
FAST = 2.0


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The registry the site allows, standing in on loopback."""
    root = tmp_path_factory.mktemp("registry")
    make_wheel(root, "tiny-stats", "1.2.0")
    make_sdist(root, "needs-build", "0.1")
    make_wheel(root, "friendly-http", "1.0", requires=("pysocks",))
    make_wheel(root, "PySocks", "1.7.1", module="socks")
    make_wheel(root, "health-stats", "0.2")
    make_wheel(root, "bank-stats", "0.3")
    server = make_server("127.0.0.1", 0, index_app(root))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/simple/"
    finally:
        server.shutdown()


def _desk(db_url: str) -> PackageDesk:
    database = Database(db_url)
    database.upgrade()
    audit_events.install_sink(db_url)
    return PackageDesk(database, lambda: POLICIES, lambda: dt.date(2026, 11, 23))


def _approved_and_fetched(
    desk: PackageDesk, name: str, version: str, settings: PlatformSettings
) -> PackageView:
    ask = PackageAsk(name=name, version=version, scenario="bank_credit", purpose="集成测试")
    asked = desk.request(PARTNER, ask)
    approved = desk.decide(ADMIN, asked.id, approve=True, note="")
    return fetch_one(desk, approved, settings, POLICIES.sandbox.packages)


def _published(settings: PlatformSettings) -> dict[str, bytes]:
    return docker_engine.read_volume(
        settings.packages_volume,
        image=settings.notebook_image,
        labels={"org.shuyu.project": settings.project},
        max_bytes=64 << 20,
    )


@pytest.fixture
def fetching(tmp_path: Path, source: str) -> Iterator[tuple[PackageDesk, PlatformSettings]]:
    settings = SETTINGS.model_copy(update={"package_source": source})
    try:
        yield _desk(f"sqlite:///{tmp_path / 'state.sqlite'}"), settings
    finally:
        audit_events.flush_sink()
        for volume in docker_engine.client().volumes.list(
            filters={"name": settings.packages_volume}
        ):
            volume.remove(force=True)


def test_an_approved_package_is_fetched_checked_and_published(
    fetching: tuple[PackageDesk, PlatformSettings],
) -> None:
    desk, settings = fetching
    done = _approved_and_fetched(desk, "tiny-stats", "1.2.0", settings)
    assert done.state is PackageState.PUBLISHED, done.note
    (record,) = done.files
    published = _published(settings)
    assert list(published) == ["tiny_stats-1.2.0-py3-none-any.whl"]
    assert hashlib.sha256(published[record.filename]).hexdigest() == record.sha256


def test_an_sdist_only_package_is_refused_and_nothing_is_published(
    fetching: tuple[PackageDesk, PlatformSettings],
) -> None:
    desk, settings = fetching
    done = _approved_and_fetched(desk, "needs-build", "0.1", settings)
    assert done.state is PackageState.FAILED
    assert "an sdist is never taken" in done.note
    docker_engine.client().volumes.create(name=settings.packages_volume)  # as `up` makes it
    assert _published(settings) == {}


def test_a_denylisted_dependency_refuses_its_whole_request(
    fetching: tuple[PackageDesk, PlatformSettings],
) -> None:
    desk, settings = fetching
    done = _approved_and_fetched(desk, "friendly-http", "1.0", settings)
    assert done.state is PackageState.FAILED
    assert "pysocks is on the denylist" in done.note
    docker_engine.client().volumes.create(name=settings.packages_volume)
    assert _published(settings) == {}


def test_the_host_worker_fetches_an_approval_with_nobody_running_a_command(
    fetching: tuple[PackageDesk, PlatformSettings],
    source: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    desk, settings = fetching
    layout = Layout(tmp_path / "var")
    for name, value in {
        "VAR": str(layout.root),
        "DB_URL": desk.db.url,
        "PROJECT": settings.project,
        "PACKAGE_SOURCE": source,
        "HOST_INTERVAL": "1",
    }.items():
        monkeypatch.setenv(f"SHUYU_{name}", value)
    pid, _started = host_worker.start(layout)  # as `make up` does
    try:
        ask = PackageAsk(
            name="tiny-stats", version="1.2.0", scenario="bank_credit", purpose="基线评分模型"
        )
        asked = desk.request(PARTNER, ask)
        desk.decide(ADMIN, asked.id, approve=True, note="")
        deadline = time.monotonic() + 120
        while desk.visible_to(ADMIN)[0].state is PackageState.APPROVED:
            assert time.monotonic() < deadline, (layout.state / "host-worker.log").read_text()
            time.sleep(0.5)
        (done,) = desk.visible_to(ADMIN)
        assert done.state is PackageState.PUBLISHED, done.note
        assert list(_published(settings)) == ["tiny_stats-1.2.0-py3-none-any.whl"]
    finally:
        assert host_worker.stop(layout) == pid


# ---------------------------------------------------------------- from inside a sandbox


@pytest.fixture(scope="module")
def sandbox(platform: RunningPlatform, source: str) -> Iterator[str]:
    """tiny-stats approved and published on the platform, then a partner's sandbox."""
    settings = platform.settings.model_copy(update={"package_source": source})
    desk = _desk(platform.layout.db_url)
    try:
        done = _approved_and_fetched(desk, "tiny-stats", "1.2.0", settings)
    finally:
        audit_events.flush_sink()
    assert done.state is PackageState.PUBLISHED, done.note
    with platform.running(PARTNER.username, "bank_credit") as container:
        yield container


def test_an_approved_package_installs_from_the_index_into_the_workspace(sandbox: str) -> None:
    installed = exec_in(sandbox, "pip", "install", "--user", "tiny-stats")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    imported = python_in(
        sandbox, "import tiny_stats; print(tiny_stats.__file__, tiny_stats.VERSION)"
    )
    where, version = imported.stdout.split()
    assert version == "1.2.0"
    assert where.startswith("/home/jovyan/.local/lib/python3.11/site-packages/")


def test_an_unapproved_package_fails_with_where_to_ask(sandbox: str) -> None:
    refused = exec_in(sandbox, "pip", "install", "--user", "xgboost")
    assert refused.returncode != 0
    assert "xgboost is not approved" in refused.stdout
    assert "/services/shuyu/packages" in refused.stdout
    assert "不在平台已批准的软件包中" in refused.stdout


def test_the_index_is_the_one_new_port_and_takes_no_upload(
    platform: RunningPlatform, sandbox: str
) -> None:
    s = platform.settings
    outcomes = probe(
        sandbox,
        [
            {"kind": "http", "url": s.index_url()},
            *({"kind": "tcp", "host": s.index_ip, "port": p} for p in (22, 80, 443, 8080)),
        ],
    )
    assert outcomes[0].result == "http 200"
    for outcome in outcomes[1:]:
        assert outcome.failed, f"{outcome.target} was reachable: {outcome.result}"
        assert outcome.seconds < FAST, outcome
    upload = python_in(
        sandbox,
        "import urllib.request, urllib.error\n"
        f"request = urllib.request.Request({s.index_url('')!r}, "
        "data=b':action=file_upload', method='POST')\n"
        "try:\n    urllib.request.urlopen(request, timeout=5)\n"
        "except urllib.error.HTTPError as e:\n    print(e.code)\n",
    )
    assert upload.stdout.strip() == "405"


KERNEL_PIP = """
from jupyter_client.manager import start_new_kernel
km, kc = start_new_kernel(kernel_name="python3")
out = []
kc.execute_interactive("%pip install --user tiny-stats==9.9", output_hook=lambda m: out.append(
    m["content"].get("text", "")), timeout=120)
km.shutdown_kernel(now=True)
print("".join(out))
"""


def test_the_notebooks_pip_is_the_same_guide(sandbox: str) -> None:
    said = python_in(sandbox, KERNEL_PIP).stdout
    assert "tiny-stats==9.9 is not approved" in said
    assert "/services/shuyu/packages" in said


def test_with_sets_per_scenario_a_sandbox_installs_its_own_scenario_s_set_only(
    platform: RunningPlatform, source: str
) -> None:
    settings = platform.settings.model_copy(update={"package_source": source})
    with platform.packages_changed(per_scenario=True):
        policies = load_policies(platform.policies)
        database = Database(platform.layout.db_url)
        audit_events.install_sink(database.url)
        desk = PackageDesk(database, lambda: policies, lambda: dt.date(2026, 11, 23))
        try:
            for who, name, version, scenario in (
                (HEALTH, "health-stats", "0.2", "health_underwriting"),
                (PARTNER, "bank-stats", "0.3", "bank_credit"),
            ):
                ask = PackageAsk(name=name, version=version, scenario=scenario, purpose="集成测试")
                asked = desk.decide(ADMIN, desk.request(who, ask).id, approve=True, note="")
                done = fetch_one(desk, asked, settings, policies.sandbox.packages)
                assert done.state is PackageState.PUBLISHED, done.note
        finally:
            audit_events.flush_sink()
        health_set, bank_set = (
            set_token(database, "health_underwriting"),
            set_token(database, "bank_credit"),
        )
        with platform.running(HEALTH.username, "health_underwriting") as box:
            index = python_in(box, "import os; print(os.environ['PIP_INDEX_URL'])").stdout
            assert index.strip() == platform.settings.index_url(f"{health_set}/simple/")
            own = exec_in(box, "pip", "install", "--user", "health-stats==0.2")
            assert own.returncode == 0, own.stdout + own.stderr
            # the bank's package is not in this scenario's set: refused with where to ask
            theirs = exec_in(box, "pip", "install", "--user", "bank-stats==0.3")
            assert theirs.returncode != 0
            assert "bank-stats==0.3 is not approved" in theirs.stdout
            # and the bank's set is not found by a token made up in the sandbox
            guessed = exec_in(
                box,
                "pip",
                "download",
                "--no-deps",
                "-d",
                "/tmp/x",
                "--index-url",
                platform.settings.index_url(f"{'0' * 32}/simple/"),
                "bank-stats==0.3",
            )
            assert guessed.returncode != 0
            assert bank_set not in index
