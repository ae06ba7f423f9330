"""The images as built by `shuyu images build`: offline, locked down, nothing left behind.

Containers and volumes are named `$SHUYU_TEST_PREFIX` (default `shuyu-test-`) + `img-…`
and removed at the end; the notebook runs exactly as a sandbox does: uid 1000, read-only
root filesystem, tmpfs /tmp, a volume at /home/jovyan, no capabilities, no network but
a published loopback port.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.jupyter_status import answers

pytestmark = pytest.mark.integration

PREFIX = os.environ.get("SHUYU_TEST_PREFIX", "shuyu-test-") + "img-"
APP_IMAGES = ["shuyu/notebook:local", "shuyu/hub:local", "shuyu/mlflow:local"]
BASES = ["shuyu/base:bookworm", "shuyu/base-hub:bookworm"]
SECRET_WORDS = re.compile(r"password|secret|token|masking\.key|private", re.IGNORECASE)


def docker(*args: str, check: bool = True, timeout: float = 300) -> str:
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=False, timeout=timeout
    )
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def run_in(image: str, *command: str, user: str | None = None) -> str:
    """Run a command in a throwaway container with no network."""
    extra = ["--user", user] if user else []
    return docker(
        "run", "--rm", "--network", "none", *extra, "--entrypoint", command[0], image,
        *command[1:],
    )  # fmt: skip


def inspect(image: str) -> dict[str, object]:
    found: list[dict[str, object]] = json.loads(docker("image", "inspect", image))
    return found[0]


@pytest.fixture(scope="module", autouse=True)
def images_exist() -> None:
    missing = [i for i in BASES + APP_IMAGES if docker("image", "inspect", i, check=False) == ""]
    if missing:
        pytest.fail(f"images missing: {missing}: run `shuyu images build` (make images) first")


@pytest.mark.parametrize("image", APP_IMAGES)
def test_local_points_at_the_content_hash_tag(image: str) -> None:
    labels = inspect(image)["Config"]["Labels"]  # type: ignore[index]
    content = labels["org.shuyu.image-hash"]
    repo = image.split(":", maxsplit=1)[0]
    assert inspect(f"{repo}:{content[:12]}")["Id"] == inspect(image)["Id"]


def test_an_unchanged_image_is_not_rebuilt() -> None:
    cli = [sys.executable, "-m", "shuyu.cli.main", "images", "build", "--only", "mlflow"]
    subprocess.run(cli, capture_output=True, text=True, check=True, timeout=1800)
    again = subprocess.run(cli, capture_output=True, text=True, check=True, timeout=300)
    assert "up to date" in again.stdout
    assert "docker build" not in again.stdout


@pytest.mark.parametrize("image", APP_IMAGES)
def test_no_wheels_or_pip_caches_are_left_in_the_image(image: str) -> None:
    found = run_in(
        image, "find", "/", "-xdev",
        "(", "-name", "*.whl", "-o", "-path", "*/.cache/pip", "-o", "-path", "/build", ")",
        "-print", user="0",
    )  # fmt: skip
    assert found.strip() == ""


@pytest.mark.parametrize("image", BASES + APP_IMAGES)
def test_no_secrets_in_the_image_config_or_history(image: str) -> None:
    config = inspect(image)["Config"]
    env = config.get("Env") or []  # type: ignore[union-attr]
    assert not [e for e in env if SECRET_WORDS.search(e.split("=", 1)[0])]
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", image)
    assert not SECRET_WORDS.search(history), history
    assert "var/secrets" not in history


@pytest.mark.parametrize("image", APP_IMAGES)
def test_no_secret_files_in_the_image(image: str) -> None:
    found = run_in(
        image, "find", "/", "-xdev", "(", "-name", "masking.key", "-o", "-path",
        "/run/shuyu-secrets", "-o", "-name", "*.pem", "-path", "*shuyu*", ")", "-print",
        user="0",
    )  # fmt: skip
    assert found.strip() == ""


@pytest.mark.parametrize("image", APP_IMAGES)
def test_the_venv_runs_on_the_base_images_python(image: str) -> None:
    out = run_in(
        image, "sh", "-c", "command -v python; readlink -f /opt/venv/bin/python; python -V"
    )
    which, interpreter, version = [*out.split()[:2], out.split()[-1]]
    assert which == "/opt/venv/bin/python"
    assert interpreter in ("/usr/bin/python3.11", "/usr/local/bin/python3.11")
    assert version.startswith("3.11.")


def test_the_notebook_has_the_training_stack() -> None:
    code = (
        "import importlib, importlib.util, torch, opacus, onnxruntime, mlflow, shuyu;"
        "importlib.util.find_spec('shuyu.train') and importlib.import_module('shuyu.train');"
        "print(torch.__version__, torch.cuda.is_available())"
    )
    out = run_in("shuyu/notebook:local", "python", "-c", code, user="1000:1000")
    assert out.split() == ["2.13.0+cpu", "False"]


def test_charts_in_the_runner_and_the_notebook_are_labelled_in_chinese() -> None:
    """The production report's charts (and a partner's) find a CJK font: Chinese labels,
    not English fallbacks or boxes of missing glyphs."""
    code = "from shuyu.production.market_report import chart_language; print(chart_language())"
    for image in ("shuyu/runner:local", "shuyu/notebook:local"):
        out = run_in(image, "python", "-c", code, user="1000:1000")
        assert out.strip() == "('zh', 'WenQuanYi Micro Hei')", (image, out)


def test_the_notebook_kernel_culling_settings() -> None:
    code = (
        "from traitlets.config.loader import PyFileConfigLoader as L;"
        "c = L('jupyter_server_config.py', '/etc/jupyter').load_config().MappingKernelManager;"
        "print(c.cull_idle_timeout, c.cull_interval, c.cull_connected)"
    )
    assert run_in("shuyu/notebook:local", "python", "-c", code).split() == ["3600", "600", "False"]


@dataclass
class Notebook:
    name: str
    url: str
    http: requests.Session

    def get(self, path: str) -> requests.Response:
        return self.http.get(f"{self.url}{path}", timeout=15, allow_redirects=False)


@pytest.fixture(scope="module")
def notebook() -> Iterator[Notebook]:
    """The notebook image under a sandbox's restrictions, with Jupyter Server's token
    login instead of the hub (the hub path is covered by test_hub_sandbox)."""
    tag = uuid.uuid4().hex[:8]
    name, volume, token = f"{PREFIX}nb-{tag}", f"{PREFIX}home-{tag}", secrets.token_hex(16)
    docker("volume", "create", volume)
    try:
        docker(
            "run", "-d", "--name", name,
            "--user", "1000:1000", "--read-only",
            "--tmpfs", "/tmp:rw,nosuid,nodev,size=256m",
            "--mount", f"type=volume,source={volume},target=/home/jovyan",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
            "--pids-limit", "256", "--memory", "2g",
            "-p", "127.0.0.1::8888",
            "shuyu/notebook:local",
            "jupyter", "server", "--ServerApp.ip=0.0.0.0", "--ServerApp.port=8888",
            f"--IdentityProvider.token={token}",
        )  # fmt: skip
        port = docker("port", name, "8888/tcp").split(":")[-1].strip()
        http = requests.Session()
        http.headers["Authorization"] = f"token {token}"
        server = Notebook(name, f"http://127.0.0.1:{port}", http)
        if not answers(lambda: server.get("/api/status"), seconds=60):
            pytest.fail("notebook did not answer:\n" + docker("logs", name, check=False))
        yield server
    finally:
        docker("rm", "-f", name, check=False)
        docker("volume", "rm", "-f", volume, check=False)


def test_the_notebook_runs_as_uid_1000_on_a_read_only_root(notebook: Notebook) -> None:
    assert docker("exec", notebook.name, "id", "-u").strip() == "1000"
    assert (
        docker("inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", notebook.name).strip() == "true"
    )
    denied = subprocess.run(
        ["docker", "exec", notebook.name, "touch", "/opt/venv/x"], capture_output=True, check=False
    )
    assert denied.returncode != 0


def test_a_notebook_kernel_runs_and_writes_only_where_allowed(notebook: Notebook) -> None:
    made = notebook.http.post(f"{notebook.url}/api/kernels", json={"name": "python3"}, timeout=30)
    assert made.status_code == 201
    kernel = made.json()["id"]
    try:
        assert notebook.get(f"/api/kernels/{kernel}").status_code == 200
    finally:
        notebook.http.delete(f"{notebook.url}/api/kernels/{kernel}", timeout=30)


def test_files_cannot_be_downloaded_but_can_be_edited(notebook: Notebook) -> None:
    put = notebook.http.put(
        f"{notebook.url}/api/contents/out.csv",
        json={"type": "file", "format": "text", "content": "a,b\n1,2\n"},
        timeout=15,
    )
    assert put.status_code == 201
    assert notebook.get("/files/out.csv").status_code == 403
    assert notebook.get("/files/out.csv?download=1").status_code == 403
    assert notebook.get("/api/contents/out.csv?download=1").status_code == 403
    assert notebook.get("/nbconvert/html/out.csv").status_code == 403
    opened = notebook.get("/api/contents/out.csv?type=file&format=text&content=1")
    assert opened.status_code == 200
    assert opened.json()["content"] == "a,b\n1,2\n"


def _page_config(notebook: Notebook) -> dict[str, object]:
    page = notebook.get("/lab")
    assert page.status_code == 200
    found = re.search(
        r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
        page.text,
        re.DOTALL,
    )
    assert found, page.text[:500]
    config: dict[str, object] = json.loads(found.group(1))
    return config


def test_the_lab_download_plugins_are_disabled(notebook: Notebook) -> None:
    disabled = _page_config(notebook)["disabledExtensions"]
    assert "@jupyterlab/docmanager-extension:download" in disabled  # type: ignore[operator]
    assert "@jupyterlab/filebrowser-extension:download" in disabled  # type: ignore[operator]


def test_the_lab_speaks_chinese_by_default(notebook: Notebook) -> None:
    setting = notebook.get("/lab/api/settings/@jupyterlab/translation-extension:plugin").json()
    assert setting["schema"]["properties"]["locale"]["default"] == "zh_CN"
    packs = notebook.get("/lab/api/translations").json()["data"]
    assert "zh_CN" in packs
    chinese = notebook.get("/lab/api/translations/zh_CN").json()
    assert chinese["data"], "the zh_CN language pack has no strings"


def test_the_hub_image_has_its_proxy_hub_and_firewall_tools() -> None:
    image = "shuyu/hub:local"
    assert run_in(image, "configurable-http-proxy", "--version").strip() == "5.1.0"
    assert run_in(image, "jupyterhub", "--version").strip().startswith("5.5.4")
    run_in(
        image, "python", "-c",
        "import dockerspawner, nativeauthenticator, jupyterhub_idle_culler, "
        "shuyu.hub.spawner, shuyu.sandbox.firewall, shuyu.hub.mlflow_credentials",
    )  # fmt: skip
    assert run_in(image, "test", "-f", "/srv/jupyterhub/jupyterhub_config.py") == ""
    # iptables-restore (nft backend) in the container's own network namespace
    rules = "*filter\\n:SHUYU-TEST - [0:0]\\n-A SHUYU-TEST -p tcp --dport 9 -j REJECT\\nCOMMIT\\n"
    out = docker(
        "run", "--rm", "--network", "none", "--cap-drop", "ALL", "--cap-add", "NET_ADMIN",
        "--cap-add", "NET_RAW", "--entrypoint", "sh", image, "-c",
        f"printf '{rules}' | iptables-restore && iptables -S SHUYU-TEST && iptables -V",
    )  # fmt: skip
    assert "-A SHUYU-TEST -p tcp -m tcp --dport 9 -j REJECT" in out
    assert "nf_tables" in out


def test_the_mlflow_image_has_the_server_and_its_user() -> None:
    image = "shuyu/mlflow:local"
    assert run_in(image, "id", "-u", "mlflow").strip() == "1001"
    assert run_in(image, "stat", "-c", "%u", "/srv/mlflow").strip() == "1001"
    assert "3.17.2" in run_in(image, "mlflow", "--version")
    run_in(image, "python", "-c", "import mlflow.server, shuyu")
