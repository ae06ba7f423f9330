"""What a security review of the first platform found, each tried as the attack.

Against the platform as `make up` starts it: a partner (or someone at the sign-up page)
tries the exact request or command that worked before the fix, and must fail. Each test
uses its own partner where the attack leaves a trace (a cut session blocks that user's
spawns for an hour).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from shuyu.audit.log import AuditLog
from shuyu.platform.compose import compose
from shuyu.platform.hub_client import HubSession
from shuyu.sandbox.firewall import Iptables, plan_for
from shuyu.secrets import MLFLOW_ADMIN_PASSWORD, random_password, read_secret
from shuyu.store.database import Database
from shuyu.tracking.admin_client import ADMIN_USERNAME, MlflowAccounts
from tests.integration.containers import exec_in, inspect, python_in
from tests.integration.platform_fixture import TEST_HTTP_PORT, RunningPlatform

pytestmark = pytest.mark.integration

SPARE_ADMIN = "admin-spare"  # in the test policies' staff; its login is removed below


def _until(check: Callable[[], bool], seconds: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds}s: {what}"
        time.sleep(0.5)


def _server_of(session: HubSession, username: str) -> dict[str, object]:
    return dict(session.api("GET", f"/users/{username}").json().get("servers", {}).get("", {}))


def _hub_logs(platform: RunningPlatform) -> str:
    done = compose(platform.layout, platform.settings, ["logs", "--no-color", "hub"], capture=True)
    return done.stdout + done.stderr


def _lab(session: HubSession, username: str) -> requests.Response:
    """Open the user's JupyterLab as a browser does (the OAuth dance included)."""
    return session.http.get(f"{session.base}/user/{username}/lab", timeout=60)


def _xsrf_api(session: HubSession, username: str, method: str, path: str, **kw: object):  # type: ignore[no-untyped-def]
    base = f"{session.base}/user/{username}"
    token = next(
        (
            c.value or ""
            for c in session.http.cookies
            if c.name == "_xsrf" and c.path.startswith(f"/user/{username}")
        ),
        "",
    )
    headers = {"X-XSRFToken": token}
    return session.http.request(method, f"{base}{path}", headers=headers, timeout=60, **kw)


# ---------------------------------------------------------------- accounts (sign-up)


def _audited(platform: RunningPlatform, action: str, actor: str) -> list[dict[str, object]]:
    """Events of the platform's audit log (its database, as `make up` made it)."""
    log = AuditLog(Database(platform.layout.db_url))
    return [e for e in log.events() if e["action"] == action and e["actor"] == actor]


def test_hub_events_and_a_sandboxs_download_refusal_reach_the_audit_log(
    platform: RunningPlatform,
) -> None:
    """The hub process's own events (a failed login, a spawn) and the refusal a
    sandbox's server reports are rows of the one hash-chained log, not lines on stderr."""
    assert not platform.session().login("no-such-user", "not-the-password")
    with platform.running("ordos-risk", "bank_credit"):
        session = platform.login("ordos-risk")
        assert _lab(session, "ordos-risk").status_code == 200
        got = session.http.get(f"{session.base}/user/ordos-risk/files/work/notes.txt", timeout=30)
        assert got.status_code == 403
        _until(
            lambda: bool(_audited(platform, "sandbox.download", "ordos-risk")),
            30,
            "the refusal in the audit log",
        )
    (login,) = _audited(platform, "hub.login", "no-such-user")
    assert login["outcome"] == "denied"
    assert _audited(platform, "sandbox.spawn", "ordos-risk")
    assert AuditLog(Database(platform.layout.db_url)).verify().ok


def test_an_administrators_name_cannot_be_claimed_at_sign_up(platform: RunningPlatform) -> None:
    # the spare administrator has no login yet: before the fix, whoever signed up
    # under that name first was a hub administrator at once
    compose(
        platform.layout,
        platform.settings,
        ["exec", "-T", "hub", "shuyu", "hub", "account", "delete", SPARE_ADMIN],
        capture=True,
    )
    password = random_password()
    platform.session().signup(SPARE_ADMIN, password)
    assert not platform.session().login(SPARE_ADMIN, password)


def test_sign_up_cannot_take_over_a_staff_login(platform: RunningPlatform) -> None:
    password = random_password()
    platform.session().signup("rv-bureau", password)
    assert not platform.session().login("rv-bureau", password)
    assert platform.login("rv-bureau")  # the real password still works


def test_the_hub_serves_sandboxes_its_api_only(platform: RunningPlatform) -> None:
    hub = f"http://{platform.settings.hub_ip}:{platform.settings.hub_api_port}"
    with platform.running("sz-credit", "bank_credit") as container:
        code = (
            "import urllib.request,urllib.error,sys\n"
            "def status(path, **headers):\n"
            f"  req=urllib.request.Request('{hub}'+path, headers=headers)\n"
            "  try: return urllib.request.urlopen(req, timeout=5).status\n"
            "  except urllib.error.HTTPError as e: return e.code\n"
            "print(status('/hub/api'), status('/hub/api/'), status('/hub/signup'), status('/hub/login'),"
            " status('/hub/authorize'), status('/hub/signup', **{'X-Forwarded-For': '127.0.0.1'}),"
            " status('/hub/api/../signup'))\n"
        )
        done = python_in(container, code)
    assert done.stdout.split() == ["200", "200", "404", "404", "404", "404", "404"], done.stderr


# ---------------------------------------------------------------- scripted export


def test_partners_and_administrators_mint_no_api_tokens(platform: RunningPlatform) -> None:
    for who in ("sz-credit", "admin"):
        made = platform.login(who).api("POST", "/users/sz-credit/tokens", json={"note": "x"})
        assert made.status_code == 403, (who, made.status_code, made.text[:200])


def test_a_copied_view_cannot_be_fetched_through_the_contents_api(
    platform: RunningPlatform,
) -> None:
    with platform.running("sz-credit", "bank_credit") as container:
        copied = exec_in(
            container, "cp", "/data/bank_credit/train.parquet", "/home/jovyan/t.parquet"
        )
        assert copied.returncode == 0, copied.stderr
        exec_in(container, "cp", "/data/bank_credit/train.parquet", "/home/jovyan/t.txt")
        session = platform.login("sz-credit")
        assert _lab(session, "sz-credit").status_code == 200
        for path in (
            "/api/contents/t.parquet?type=file&format=base64&content=1",
            "/api/contents/t.parquet?content=1",
            "/api/contents/t.txt?type=file&format=text&content=1",
            "/api/contents/t.txt?type=file&format=base64&content=1",
        ):
            got = _xsrf_api(session, "sz-credit", "GET", path)
            assert got.status_code == 403, (path, got.status_code)
        listing = _xsrf_api(session, "sz-credit", "GET", "/api/contents/").json()
        assert "t.parquet" in {i["name"] for i in listing["content"]}


def test_more_than_the_hourly_budget_to_the_browser_cuts_the_session(
    platform: RunningPlatform,
) -> None:
    user = "pc-actuary"
    with platform.running(user) as container:
        page = "x" * 900_000  # under the editor's limit; the budget is 8 MiB an hour
        exec_in(container, "sh", "-c", "cat > /home/jovyan/page.csv", stdin=page)
        session = platform.login(user)
        assert _lab(session, user).status_code == 200
        served = 0
        for _ in range(30):
            try:
                got = _xsrf_api(
                    session, user, "GET", "/api/contents/page.csv?type=file&format=text&content=1"
                )
            except requests.RequestException:
                break
            if got.status_code != 200:
                break
            served += len(got.content)
        assert 0 < served <= 9 << 20
        _until(lambda: not _server_of(session, user), 60, "the hub stops the cut server")
        refused = session.api("POST", f"/users/{user}/server")
        assert refused.status_code == 403
        assert "hourly limit" in refused.text
    assert '"action": "sandbox.egress"' in _hub_logs(platform)


# ---------------------------------------------------------------- the server's own config


HOME_CONFIG = {
    ".jupyter/jupyter_server_config.py": (
        "c.ServerApp.authorizer_class = 'jupyter_server.auth.authorizer.AllowAllAuthorizer'\n"
        "c.ServerApp.contents_manager_class = "
        "'jupyter_server.services.contents.largefilemanager.AsyncLargeFileManager'\n"
        "c.ServerApp.jpserver_extensions = {'shuyu.sandbox.server_extension': False}\n"
    ),
    ".jupyter/jupyter_server_config.json": json.dumps(
        {"ServerApp": {"authorizer_class": "jupyter_server.auth.authorizer.AllowAllAuthorizer"}}
    ),
    ".jupyter/jupyter_server_config.d/zz-open.json": json.dumps(
        {"ServerApp": {"jpserver_extensions": {"shuyu.sandbox.server_extension": False}}}
    ),
    ".jupyter/labconfig/page_config.json": json.dumps({"disabledExtensions": {}}),
    ".local/etc/jupyter/jupyter_server_config.json": json.dumps(
        {"ServerApp": {"authorizer_class": "jupyter_server.auth.authorizer.AllowAllAuthorizer"}}
    ),
}


def test_config_written_in_the_home_cannot_switch_the_controls_off(
    platform: RunningPlatform,
) -> None:
    user = "hi-underwriter"
    with platform.running(user) as container:
        for path, text in HOME_CONFIG.items():
            folder = path.rsplit("/", 1)[0]
            exec_in(container, "mkdir", "-p", f"/home/jovyan/{folder}")
            exec_in(container, "sh", "-c", f"cat > /home/jovyan/{path}", stdin=text)
        exec_in(container, "sh", "-c", "echo a,b > /home/jovyan/out.csv")
    # restarted from the hub, as the partner would to make the files take effect
    with platform.running(user):
        session = platform.login(user)
        lab = _lab(session, user)
        assert lab.status_code == 200
        assert "@jupyterlab/docmanager-extension:download" in lab.text  # still disabled
        base = f"/user/{user}"
        assert (
            session.http.get(f"{platform.url}{base}/files/out.csv", timeout=30).status_code == 403
        )
        got = _xsrf_api(
            session, user, "GET", "/api/contents/out.csv?type=file&format=base64&content=1"
        )
        assert got.status_code == 403


def test_kernels_get_no_hub_token_and_cannot_read_the_server(platform: RunningPlatform) -> None:
    user = "hi-underwriter"
    with platform.running(user) as container:
        session = platform.login(user)
        assert _lab(session, user).status_code == 200
        kernel = _xsrf_api(session, user, "POST", "/api/kernels", json={"name": "python3"})
        assert kernel.status_code == 201, kernel.text
        code = (
            "import os,glob\n"
            "server=kernel=None\n"
            "for d in glob.glob('/proc/[0-9]*'):\n"
            "  if d == f'/proc/{os.getpid()}': continue  # this probe names ipykernel too\n"
            "  try: cmd=open(d+'/cmdline','rb').read()\n"
            "  except OSError: continue\n"
            "  if b'ipykernel' in cmd: kernel=d\n"
            "  elif b'jupyterhub-singleuser' in cmd: server=d\n"
            "print(b'JUPYTERHUB_API_TOKEN' in open(kernel+'/environ','rb').read())\n"
            "try:\n"
            "  open(server+'/environ','rb').read(); print('readable')\n"
            "except PermissionError: print('refused')\n"
        )
        deadline = time.monotonic() + 30
        done = python_in(container, code)
        while "Error" in done.stderr and time.monotonic() < deadline:  # the kernel starts
            time.sleep(1)
            done = python_in(container, code)
        assert done.stdout.split() == ["False", "refused"], done.stderr


# ---------------------------------------------------------------- access ends with the grant


def _mlflow_admin(platform: RunningPlatform) -> MlflowAccounts:
    password = read_secret(platform.layout.mlflow_secrets / MLFLOW_ADMIN_PASSWORD)
    return MlflowAccounts(platform.settings.mlflow_url, ADMIN_USERNAME, password)


def test_a_running_sandbox_stops_when_its_grant_lapses(platform: RunningPlatform) -> None:
    user, yesterday = "ordos-risk", dt.date.today() - dt.timedelta(days=1)
    with platform.running(user) as container:
        assert container
        session = platform.login(user)
        with _mlflow_admin(platform) as mlflow:
            experiment = mlflow.experiment_id("shuyu/bank_credit/ordos_bank")
            assert experiment is not None
            assert mlflow.permission(user, experiment) is not None
            with platform.scenario_changed("bank_credit", valid_until=str(yesterday)):
                _until(lambda: not _server_of(session, user), 60, "the hub stops the sandbox")
                assert platform.container(user) == ""
                refused = session.api("POST", f"/users/{user}/server")
                assert refused.status_code == 403
                assert str(yesterday) in refused.text
                _until(
                    lambda: mlflow.permission(user, experiment) is None,
                    60,
                    "the MLflow grant is revoked",
                )


def test_a_withdrawn_approval_stops_the_sandbox_and_ends_the_sessions(
    platform: RunningPlatform,
) -> None:
    user = "yb-analyst"
    admin = platform.login("admin")
    with platform.running(user):
        session = platform.login(user)
        admin.approve(user, approved=False)
        try:
            _until(lambda: not _server_of(admin, user), 60, "the hub stops the sandbox")
            _until(
                lambda: session.api("GET", "/user").status_code == 403,
                30,
                "the partner's session ends",
            )
            with pytest.raises(Exception, match="cannot log in"):
                platform.login(user)
        finally:
            admin.approve(user)
    assert platform.login(user)


def test_the_idle_culler_stops_servers_past_their_maximum_age(platform: RunningPlatform) -> None:
    code = (
        "import glob\n"
        "for d in glob.glob('/proc/[0-9]*/cmdline'):\n"
        "  c=open(d,'rb').read().replace(b'\\0',b' ')\n"
        "  if b'jupyterhub_idle_culler' in c: print(c.decode())\n"
    )
    done = compose(
        platform.layout,
        platform.settings,
        ["exec", "-T", "hub", "python", "-c", code],
        capture=True,
    )
    assert "--max-age=43200" in done.stdout, done.stdout + done.stderr


def test_a_workspace_belongs_to_one_scenario(platform: RunningPlatform) -> None:
    user = "sz-credit"
    with platform.running(user, "bank_credit") as container:
        exec_in(container, "sh", "-c", "echo copied > /home/jovyan/from-bank-credit.csv")
    with platform.running(user, "bid_loan") as container:
        listing = exec_in(container, "ls", "/home/jovyan").stdout.split()
        assert "from-bank-credit.csv" not in listing
        assert exec_in(container, "ls", "/data").stdout.split() == ["bid_loan"]


def test_a_workspace_over_its_quota_stops_its_sandbox(platform: RunningPlatform) -> None:
    user = "coal-analyst"
    volume = platform.settings.workspace_volume(user, "coal_market")
    with platform.running(user) as container:
        wrote = exec_in(container, "sh", "-c", "head -c 80000000 /dev/zero > /home/jovyan/big.bin")
        assert wrote.returncode == 0, wrote.stderr
        session = platform.login(user)
        _until(lambda: not _server_of(session, user), 120, "the hub stops the sandbox")
    refused = platform.login(user).api("POST", f"/users/{user}/server")
    assert refused.status_code == 403
    assert "quota" in refused.text
    # the administrator's remedy: clean the workspace
    subprocess.run(
        ["docker", "run", "--rm", "-v", f"{volume}:/w", "shuyu/base:bookworm", "rm", "/w/big.bin"],
        check=True,
        capture_output=True,
    )
    _until(
        lambda: platform.login(user).api("POST", f"/users/{user}/server").status_code in (201, 202),
        120,
        "the block lifts once the workspace is back under its quota",
    )
    platform.login(user).stop_server(user)


def test_one_file_cannot_fill_the_disk_and_no_core_is_dumped(platform: RunningPlatform) -> None:
    with platform.running("ordos-risk") as container:
        limits = exec_in(container, "cat", "/proc/self/limits").stdout
    size = next(line for line in limits.splitlines() if line.startswith("Max file size"))
    core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
    assert size.split()[3] == str(platform.settings.max_file_bytes)
    assert core.split()[4] == "0"


# ---------------------------------------------------------------- the firewall


@pytest.fixture
def firewall_stopped(platform: RunningPlatform) -> Iterator[None]:
    compose(platform.layout, platform.settings, ["stop", "firewall"], capture=True)
    try:
        yield
    finally:
        compose(platform.layout, platform.settings, ["start", "firewall"], capture=True)


def test_no_sandbox_starts_while_the_firewall_is_down(
    platform: RunningPlatform, firewall_stopped: None
) -> None:
    plan = plan_for(platform.settings)
    tables = Iptables("ip")
    assert tables.list_chain(plan.forward_chain)[1:] == [
        f"-A {plan.forward_chain} {rule}" for rule in plan.deny_all_rules()
    ]  # fail closed: nothing passes while the service is away
    session = platform.login("ordos-risk")
    refused = session.api("POST", "/users/ordos-risk/server")
    assert refused.status_code == 503, refused.text
    assert "firewall" in refused.text
    assert platform.container("ordos-risk") == ""


def test_sandboxes_start_again_once_the_firewall_is_back(platform: RunningPlatform) -> None:
    session = platform.login("ordos-risk")
    _until(
        lambda: session.api("POST", "/users/ordos-risk/server").status_code in (201, 202),
        60,
        "the firewall service verifies its rules again",
    )
    session.stop_server("ordos-risk")


# ---------------------------------------------------------------- origins, names, TLS


def test_an_administrator_cannot_open_a_partners_server(platform: RunningPlatform) -> None:
    with platform.running("sz-credit", "bank_credit"):
        admin = platform.login("admin")
        opened = _lab(admin, "sz-credit")
        assert opened.status_code == 403
        assert "jupyterlab" not in opened.text.lower()
        # …yet can stop it
        assert admin.api("DELETE", "/users/sz-credit/server").status_code in (202, 204)


def test_sandbox_names_say_nothing_about_who_is_working(platform: RunningPlatform) -> None:
    with (
        platform.running("sz-credit", "bank_credit") as mine,
        platform.running("ordos-risk") as other,
    ):
        network = platform.settings.sandbox_network
        other_ip = inspect(other)["NetworkSettings"]["Networks"][network]["IPAddress"]
        code = (
            "import socket\n"
            f"for name in ('{platform.settings.project}-sbx-ordos-risk', 'ordos-risk'):\n"
            "  try: print(socket.gethostbyname(name))\n"
            "  except OSError: print('unresolved')\n"
            f"try: print(socket.gethostbyaddr('{other_ip}')[0])\n"
            "except OSError: print('unresolved')\n"
        )
        answers = python_in(mine, code).stdout.split()
    assert answers[:2] == ["unresolved", "unresolved"]
    assert "ordos" not in answers[2]


def test_the_hub_is_served_over_https_with_secure_cookies(platform: RunningPlatform) -> None:
    plain = requests.get(
        f"http://127.0.0.1:{TEST_HTTP_PORT}/hub/login", allow_redirects=False, timeout=10
    )
    assert plain.status_code in (301, 302, 307, 308)
    assert plain.headers["Location"].startswith("https://")
    session = platform.session()
    session.login("rv-expert", platform.accounts["rv-expert"].password)
    cookies = [c for c in session.http.cookies if c.name.startswith("jupyterhub")]
    assert cookies
    assert all(c.secure for c in cookies)


def test_jupyterlab_asks_the_internet_for_no_news_or_updates(platform: RunningPlatform) -> None:
    user = "sz-credit"
    with platform.running(user, "bank_credit"):
        session = platform.login(user)
        assert _lab(session, user).status_code == 200
        news = _xsrf_api(session, user, "GET", "/lab/api/news")
        update = _xsrf_api(session, user, "GET", "/lab/api/update")
    assert news.json().get("news") == []
    assert update.json().get("notification") is None


def test_a_new_workspace_opens_on_its_scenarios_starter_notebook(
    platform: RunningPlatform,
) -> None:
    """The coal analyst's first sandbox has the scenario's develop.ipynb and README in
    its workspace (the spawner's default_url opens the notebook: tests/unit)."""
    user = "coal-analyst"
    with platform.running(user) as container:
        listing = exec_in(container, "ls", "/home/jovyan").stdout.split()
        assert {"develop.ipynb", "README.md"} <= set(listing)
        readme = exec_in(container, "cat", "/home/jovyan/README.md").stdout
        assert "/data/coal_market/train.parquet" in readme
