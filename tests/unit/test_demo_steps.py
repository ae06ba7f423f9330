"""`shuyu demo`'s walk as its watcher reads it — numbered steps with their evidence, the
first failure named with its walk, step and reason — and the walk's choices read off
the policies: every vote the review chain needs, the product a partner's model serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from shuyu.demo.stack import Stack, read_env_file
from shuyu.demo.steps import StepFailed, Walk, expect
from shuyu.demo.walks import DemoOptions, _product_of, _reviewers
from shuyu.errors import ShuyuError
from shuyu.platform.hub_client import Account
from shuyu.platform.layout import Layout
from shuyu.policy import default_policies_dir, load_policies
from shuyu.settings import PlatformSettings


def test_steps_are_numbered_and_print_their_evidence() -> None:
    said: list[str] = []
    walk = Walk("product", said.append)
    with walk.step("合作方登录", "the partner signs in") as ev:
        ev("container shuyu-sbx-1")
    with walk.step("提交", "submit"):
        pass
    assert said[0] == "[product 1] 合作方登录 · the partner signs in …"
    assert said[1] == "      container shuyu-sbx-1"
    assert said[2].startswith("      ✓ ")
    assert said[3] == "[product 2] 提交 · submit …"
    assert walk.done == 2


def test_the_first_failing_step_ends_the_walk_and_is_named() -> None:
    said: list[str] = []
    walk = Walk("monitoring", said.append)
    with walk.step("一", "one"):
        pass
    with pytest.raises(StepFailed) as failed, walk.step("密钥被封禁", "the key is blocked"):
        expect(False, "the next call got 200")
    assert failed.value.number == 2
    assert str(failed.value) == (
        "monitoring walk, step 2 (密钥被封禁 · the key is blocked) failed: the next call got 200"
    )
    assert walk.done == 1  # the failed step is not counted as done
    assert not any("✓" in line for line in said[2:])


def _stack(tmp_path: Path) -> Stack:
    policies = load_policies()
    accounts = {
        name: Account(name, "pw", "staff") for name in ("rv-provider", "rv-expert", "rv-expert2")
    } | {"rv-bureau": Account("rv-bureau", "pw", "staff")}
    return Stack(
        layout=Layout(tmp_path / "var"),
        settings=PlatformSettings(),
        url="https://127.0.0.1:8443",
        products_url="http://127.0.0.1:8700",
        policies_dir=default_policies_dir(),
        policies=policies,
        accounts=accounts,
    )


def test_the_walk_casts_every_vote_the_review_chain_needs(tmp_path: Path) -> None:
    votes = _reviewers(_stack(tmp_path), "bank_credit")
    assert [reviewer for _, reviewer in votes] == [
        "rv-provider", "rv-expert", "rv-expert2", "rv-bureau"
    ]  # fmt: skip


def test_a_partner_whose_model_no_product_serves_is_told_which_partner_to_choose(
    tmp_path: Path,
) -> None:
    stack = _stack(tmp_path)
    model, product = _product_of(stack, DemoOptions(partner="sz-credit"))
    assert (model, product.id) == ("bank_credit.suzhou_rcb", "enterprise_credit")
    with pytest.raises(ShuyuError, match=r"no product in products\.yaml serves bank_credit\.ordos"):
        _product_of(stack, DemoOptions(partner="ordos-risk"))
    with pytest.raises(ShuyuError, match="--partner nobody: not a partner"):
        _product_of(stack, DemoOptions(partner="nobody"))


def test_without_a_platform_the_demo_says_to_bring_it_up(tmp_path: Path) -> None:
    with pytest.raises(ShuyuError, match="make up"):
        read_env_file(tmp_path / "shuyu.env")
