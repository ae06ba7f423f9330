"""`shuyu demo`, the newcomer's proof that the whole platform works, run as a newcomer
runs it: the command on the host against a platform `make up` started, all three walks.
Last of the suite (it re-submits, re-approves and re-files the credit product).

The credit product of the test policies serves ordos_bank's model, so the walk's
partner is ordos-risk."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shuyu.platform.service_client import SERVICE, open_service
from tests.integration.browser import chromium, sign_in, wait_for_text
from tests.integration.platform_fixture import RunningPlatform
from tests.integration.test_review_flow import PRODUCT

pytestmark = pytest.mark.integration

PARTNER = "ordos-risk"


def _demo(platform: RunningPlatform, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("shuyu")), "demo", "--partner", PARTNER, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
        env={**os.environ, "SHUYU_VAR": str(platform.layout.root)},
    )


def test_the_demo_walks_a_product_stops_a_leaky_model_and_blocks_a_burst(
    platform: RunningPlatform,
) -> None:
    done = _demo(platform)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-3000:]
    out = done.stdout
    print(out)  # shown with the failure, whichever assertion fails
    steps = re.findall(r"^\[(product|leaky|monitoring) (\d+)\] ", out, flags=re.MULTILINE)
    assert [w for w, _ in steps].count("product") == 10
    assert [w for w, _ in steps].count("leaky") == 2
    assert [w for w, _ in steps].count("monitoring") == 2
    assert out.count("✓") == 14  # every step done
    assert "self-check passes with a certified ε" in out
    assert "certified ε = " in out
    assert "@approved" in out
    assert re.search(r"scores\.csv \(\d+ rows\), run\.html", out)
    assert re.search(r"score 0\.\d+, grade [A-E]", out)
    assert re.search(r"^      OK: \d+ events", out, flags=re.MULTILINE)
    assert "indirect.dp_budget: " in out  # the leaky model's reason, from its report
    assert re.search(r"403 key_blocked, case \S+", out)
    assert "演示完成" in out


def test_the_demo_exits_non_zero_naming_the_step_that_failed(platform: RunningPlatform) -> None:
    """With the product frozen (应急处置), a burst is refused as frozen, not blocked by
    the monitoring rules: the monitoring walk's first step fails, and says so."""
    with platform.frozen(f"product:{PRODUCT}", "演示测试：冻结产品"):
        done = _demo(platform, "--walk", "monitoring")
    assert done.returncode == 1, done.stdout[-3000:]
    assert "monitoring walk, step 1 (" in done.stderr
    assert "product_frozen" in done.stderr or "frozen" in done.stderr


# the pages each role works in, in the order the guide (docs/GUIDES.md) shows them, and
# the words that prove the page is the real one with the walk's records on it
PAGES = [
    ("partner", PARTNER, "/", "我的提交"),
    ("reviewer", "rv-bureau", "/", "待我评审"),
    ("reviewer-submission", "rv-bureau", "/submissions/{submission}", "安全自查"),
    ("operator", "op-runner", "/production", "运行记录"),
    ("operator-run", "op-runner", "/production/runs/{run}", "released"),
    ("admin-products", "admin", "/products", "数据产品"),
    ("admin-cases", "admin", "/products/cases", "事中检查案件"),
    ("admin-statements", "admin", "/products/statements", "用量对账"),
    ("admin-filings", "admin", "/governance/filings", "登记备案"),
    ("admin-annual", "admin", "/governance/annual", "填报人工指标"),
]


def _newest(platform: RunningPlatform, username: str, path: str, state: str) -> str:
    """The id of the newest record at `path` (REST, as `username`) in `state`."""
    found = open_service(platform.login(username)).get(path)
    assert found.status_code == 200, found.text[:300]
    return str(next(r["id"] for r in found.json() if r["state"] == state))


def test_each_roles_pages_show_the_walks_records_in_chinese(platform: RunningPlatform) -> None:
    """After the walks, each role signs in to the real pages in headless Chromium (zh-CN);
    each page shows its records, and a screenshot of it is kept for the guide
    (SHUYU_SCREENSHOTS_DIR, default <layout>/screenshots; docs/screenshots were taken so,
    with Debian's fonts-noto-cjk installed for the Chinese glyphs)."""
    out = Path(os.environ.get("SHUYU_SCREENSHOTS_DIR") or platform.layout.root / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    ids = {
        "submission": _newest(platform, PARTNER, "/submissions", "approved"),
        "run": _newest(platform, "op-runner", "/production/runs", "released"),
    }
    with chromium() as browser:
        for name, username, path, words in PAGES:
            sign_in(browser, platform.url, username, platform.accounts[username].password)
            browser.get(f"{platform.url}{SERVICE}{path.format(**ids)}")
            wait_for_text(browser, words)
            height = browser.execute_script("return document.body.scrollHeight")
            browser.set_window_size(1280, min(max(int(height), 700), 2400))
            assert browser.save_screenshot(str(out / f"{name}.png")), name
            browser.set_window_size(1280, 900)
    assert sorted(p.stem for p in out.glob("*.png")) == sorted(name for name, *_ in PAGES)
