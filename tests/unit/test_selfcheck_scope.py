"""超出用途和使用范围: what a partner would try to get a model past the scope checks —
an input outside the view, another scenario's data, an expired authorisation, someone
else's run — each caught by the right check for the right reason; a proper submission
passes all four."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import onnx
import pytest

from shuyu.data.view_manifest import ViewManifest
from shuyu.policy import Policies, load_policies
from shuyu.selfcheck.context import CheckContext, DatasetInput
from shuyu.selfcheck.result import Status
from shuyu.selfcheck.scope import (
    authorisation_in_force,
    datasets_are_the_view,
    inputs_within_scope,
    submitter_is_authorised,
)
from tests.unit.bank_credit_view import BANK_CREDIT_FEATURES, write_bank_credit_view
from tests.unit.selfcheck_submission import (
    TODAY,
    context,
    linear_model,
    save,
    submission,
    view_dataset,
)

IN_SCOPE = [name for name, kind in BANK_CREDIT_FEATURES if kind in {"float", "int"}]


@pytest.fixture(scope="module")
def policies() -> Policies:
    return load_policies()


@pytest.fixture(scope="module")
def view(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ViewManifest]:
    directory = tmp_path_factory.mktemp("views") / "bank_credit"
    return directory, write_bank_credit_view(directory, train_rows=200, holdout_rows=100)


def make(
    policies: Policies,
    view: tuple[Path, ViewManifest],
    tmp_path: Path,
    *,
    inputs: list[str] = IN_SCOPE,
    today: dt.date | None = None,
    datasets: list[DatasetInput] | None = None,
    partner: str = "suzhou_rcb",
    submitter: str = "sz-credit",
    run_user: str | None = None,
) -> CheckContext:
    directory, manifest = view
    model_dir = tmp_path / "model"
    save(linear_model(inputs), model_dir)
    if datasets is None:
        datasets = [view_dataset("bank_credit", manifest.train_sha256)]
    sub = submission(datasets=datasets, partner=partner, submitter=submitter, run_user=run_user)
    return context(policies, sub, model_dir=model_dir, view_dir=directory, today=today or TODAY)


def test_a_proper_submission_passes_every_scope_check(
    policies: Policies, view: tuple[Path, ViewManifest], tmp_path: Path
) -> None:
    ctx = make(policies, view, tmp_path)
    for run in (
        inputs_within_scope,
        datasets_are_the_view,
        authorisation_in_force,
        submitter_is_authorised,
    ):
        result = run(ctx)
        assert result.status is Status.PASS, (result.id, result.summary_en)
        assert result.remedy_en == ""


def test_a_model_reading_a_field_outside_the_view_fails(
    policies: Policies, view: tuple[Path, ViewManifest], tmp_path: Path
) -> None:
    # the legal representative's name is in the catalogue (dropped by masking), never in
    # the bank_credit view
    ctx = make(policies, view, tmp_path, inputs=[*IN_SCOPE[:3], "legal_rep_name"])
    result = inputs_within_scope(ctx)
    assert result.status is Status.FAIL
    assert [e.value for e in result.evidence] == ["legal_rep_name"]
    assert "legal_rep_name" in result.summary_en
    assert result.figures["outside_scope"] == 1
    assert result.remedy_zh


def test_a_model_taking_the_label_as_input_is_out_of_scope(
    policies: Policies, view: tuple[Path, ViewManifest], tmp_path: Path
) -> None:
    result = inputs_within_scope(
        make(policies, view, tmp_path, inputs=["total_assets", "default_12m"])
    )
    assert result.status is Status.FAIL
    assert result.evidence[0].what_en == "the label is a model input"


def test_inputs_are_read_from_the_graph_not_from_what_was_logged(
    policies: Policies, view: tuple[Path, ViewManifest], tmp_path: Path
) -> None:
    ctx = make(policies, view, tmp_path, inputs=["total_assets", "resident_id"])
    # an initializer listed among the inputs (old exporters) is a weight, not a field
    path = ctx.model_dir / "model.onnx"
    model = onnx.load(str(path))
    model.graph.input.append(
        onnx.helper.make_tensor_value_info("w", onnx.TensorProto.FLOAT, [2, 1])
    )
    path.write_bytes(model.SerializeToString())
    result = inputs_within_scope(ctx)
    assert [e.value for e in result.evidence] == ["resident_id"]


def test_a_missing_or_unreadable_model_fails(
    policies: Policies, view: tuple[Path, ViewManifest], tmp_path: Path
) -> None:
    ctx = make(policies, view, tmp_path)
    (ctx.model_dir / "model.onnx").write_bytes(b"\x08garbage")
    assert inputs_within_scope(ctx).status is Status.FAIL
    (ctx.model_dir / "model.onnx").unlink()
    result = inputs_within_scope(ctx)
    assert result.status is Status.FAIL
    assert "model.onnx" in result.summary_en


def test_a_run_logging_another_scenarios_dataset_fails(
    policies: Policies, view: tuple[Path, ViewManifest], tmp_path: Path
) -> None:
    _, manifest = view
    other = DatasetInput(name="health_underwriting", digest="9" * 36)
    ctx = make(
        policies,
        view,
        tmp_path,
        datasets=[view_dataset("bank_credit", manifest.train_sha256), other],
    )
    result = datasets_are_the_view(ctx)
    assert result.status is Status.FAIL
    assert len(result.evidence) == 1
    assert result.evidence[0].value == f"health_underwriting @ {'9' * 36}"
    assert "name" in result.evidence[0].what_en


def test_a_dataset_named_as_the_view_but_with_another_digest_fails(
    policies: Policies, view: tuple[Path, ViewManifest], tmp_path: Path
) -> None:
    _, manifest = view
    forged = DatasetInput(name="bank_credit", digest=manifest.train_sha256[:35] + "x")
    short = DatasetInput(name="bank_credit", digest=manifest.train_sha256[:8])
    for logged in (forged, short):
        result = datasets_are_the_view(make(policies, view, tmp_path, datasets=[logged]))
        assert result.status is Status.FAIL
        assert "digest" in result.evidence[0].what_en
    wrong_tag = view_dataset("bank_credit", manifest.train_sha256).model_copy(
        update={"tags": {"shuyu.train_sha256": "0" * 64}}
    )
    result = datasets_are_the_view(make(policies, view, tmp_path, datasets=[wrong_tag]))
    assert result.status is Status.FAIL


def test_a_run_with_no_dataset_input_cannot_show_its_lineage(
    policies: Policies, view: tuple[Path, ViewManifest], tmp_path: Path
) -> None:
    result = datasets_are_the_view(make(policies, view, tmp_path, datasets=[]))
    assert result.status is Status.FAIL
    assert "no dataset input" in result.summary_en


def test_an_expired_or_not_yet_valid_authorisation_fails(
    policies: Policies, view: tuple[Path, ViewManifest], tmp_path: Path
) -> None:
    scenario = policies.scenario("bank_credit")
    expired = authorisation_in_force(
        make(policies, view, tmp_path, today=scenario.expires_on + dt.timedelta(days=1))
    )
    assert expired.status is Status.FAIL
    assert "expired" in expired.summary_en
    assert expired.figures["days_left"] == -1
    early = authorisation_in_force(
        make(policies, view, tmp_path, today=scenario.granted_on - dt.timedelta(days=1))
    )
    assert early.status is Status.FAIL
    assert "not yet in force" in early.summary_en
    last_day = authorisation_in_force(make(policies, view, tmp_path, today=scenario.expires_on))
    assert last_day.status is Status.PASS


def test_another_partners_run_submitted_by_this_one_fails(
    policies: Policies, view: tuple[Path, ViewManifest], tmp_path: Path
) -> None:
    # ordos-risk (ordos_bank) trained it; sz-credit (suzhou_rcb) submits it as their own
    result = submitter_is_authorised(make(policies, view, tmp_path, run_user="ordos-risk"))
    assert result.status is Status.FAIL
    assert result.evidence[0].where == "run run-0001: user_id"
    assert "ordos_bank" in result.evidence[0].value


def test_a_submitter_outside_the_scenarios_partners_fails(
    policies: Policies, view: tuple[Path, ViewManifest], tmp_path: Path
) -> None:
    # hi-underwriter is the health insurer's: not a partner of bank_credit
    outsider = submitter_is_authorised(
        make(policies, view, tmp_path, submitter="hi-underwriter", partner="health_insurer")
    )
    assert outsider.status is Status.FAIL
    assert "not authorised for this scenario" in outsider.evidence[0].what_en
    # claiming to submit for another partner than one's own
    disguised = submitter_is_authorised(make(policies, view, tmp_path, partner="ordos_bank"))
    assert disguised.status is Status.FAIL
    assert disguised.evidence[0].what_en == "the submitter belongs to another partner"
    # staff are nobody's partner users
    staff = submitter_is_authorised(make(policies, view, tmp_path, submitter="rv-expert"))
    assert staff.status is Status.FAIL
    assert staff.evidence[0].what_en == "the submitter is no partner's user"
