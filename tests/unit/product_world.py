"""A small world for the product API tests: the shipped policies, a masked zone made by
the real masking job from catalogue-shaped raw tables, each product's feature table
built from it, and approved ONNX models signed as the review signs them.

The models are hand-built logistic regressions over a few declared features (numbers
and a bool category), with the `shuyu.preprocessing` metadata `shuyu.onnx_model` reads,
so that a subject's score and its contributing factors follow from its masked features
in a way a test can predict. They reach the product API as a registered version does:
files, the gate's digests and a signed approval record, verified by `approved_model`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import polars as pl
from onnx import TensorProto, helper, numpy_helper

from shuyu.data.generate.identifiers import make_usccs
from shuyu.data.masking.mask import mask_directory
from shuyu.policy import load_policies
from shuyu.policy.models import ApiProduct, Policies, ProductsPolicy
from shuyu.products.approved_model import ApprovedModel, approved_model
from shuyu.products.clock import Clock
from shuyu.products.feature_table import build_feature_table, write_feature_table
from shuyu.products.keys import KeyHasher
from shuyu.products.policy import load_products_policy
from shuyu.products.service import ProductService, build_product_service
from shuyu.registry.approval import ApprovalRecord, LevelApproval, approval_tags
from shuyu.registry.approved import VerifiedModel
from shuyu.registry.digests import DIGESTS_TAG, encode, sha256_bytes
from shuyu.store.database import Database
from shuyu.tracking.store_client import ModelVersion
from tests.unit.catalogue_frames import raw_frames, write_raw

MASKING_KEY = bytes(range(32))
APPROVAL_KEY = b"approval-key-for-the-product-tests-0123456789"
PEPPER = b"pepper-for-the-product-tests-0123456789"
OPSET = 18

# (feature, kind, weight): numbers are standardised by the graph; `true` of a bool adds
# its weight. Positive weights raise the risk score.
ENTERPRISE_TERMS: list[tuple[str, str, float]] = [
    ("social_insurance_unpaid_months", "int", 0.9),
    ("tax_arrears_total", "float", 0.6),
    ("court_cases", "int", 0.5),
    ("net_profit", "float", -0.4),
    ("dishonest_debtor", "bool", 1.5),
]
PERSON_TERMS: list[tuple[str, str, float]] = [
    ("inpatient_days_total", "int", 0.8),
    ("medical_cost_total", "float", 0.5),
    ("chronic_registrations", "int", 0.7),
]


@dataclass
class Now:
    """The tests' time source: an instant that tests move."""

    at: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.at

    def local(self, year: int, month: int, day: int, hour: int, minute: int = 0) -> None:
        """Set the time as Beijing time."""
        self.at = dt.datetime(
            year, month, day, hour, minute, tzinfo=dt.timezone(dt.timedelta(hours=8))
        )

    def advance(self, seconds: float) -> None:
        self.at += dt.timedelta(seconds=seconds)


@dataclass(frozen=True)
class World:
    policies: Policies
    products: ProductsPolicy
    raw: dict[str, pl.DataFrame]
    masked: Path
    tables: Path
    models: dict[str, ApprovedModel]

    def product(self, product_id: str) -> ApiProduct:
        found = self.products.product(product_id)
        assert found is not None
        return found

    def usccs(self) -> list[str]:
        return self.raw["enterprise_basic"]["uscc"].to_list()

    def resident_ids(self) -> list[str]:
        return self.raw["resident_population"]["id_number"].to_list()


def other_usccs(
    world: World, n: int, counties: Sequence[str] = ("341302",), seed: int = 99
) -> list[str]:
    """Valid credit codes of enterprises the world does not hold."""
    known = set(world.usccs())
    drawn = make_usccs(np.random.default_rng(seed), n + 10, list(counties))
    return [c for c in drawn if c not in known][:n]


def _preprocessing(
    terms: Sequence[tuple[str, str, float]], centres: dict[str, tuple[float, float]]
) -> str:
    features = []
    for name, kind, _weight in terms:
        if kind == "bool":
            features.append(
                {"name": name, "type": "bool", "kind": "categorical", "vocabulary": ["false", "true"],
                 "scaling": None}
            )  # fmt: skip
        else:
            centre, scale = centres[name]
            features.append(
                {"name": name, "type": kind, "kind": "numeric", "vocabulary": None,
                 "scaling": {"centre": centre, "scale": scale}}
            )  # fmt: skip
    return json.dumps({"features": features, "data_independent": False, "min_category_count": 10})


def logistic_model(
    terms: Sequence[tuple[str, str, float]],
    table: pl.DataFrame,
    *,
    scenario: str,
    bias: float = -2.0,
) -> onnx.ModelProto:
    """sigmoid(bias + Σ w·z): z the standardised number (0 when missing) or 1 for `true`."""
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = [numpy_helper.from_array(np.array(bias, np.float32), "bias")]
    inputs = []
    centres: dict[str, tuple[float, float]] = {}
    contributions = []
    for name, kind, weight in terms:
        w = f"w_{name}"
        inits.append(numpy_helper.from_array(np.array(weight, np.float32), w))
        if kind == "bool":
            inputs.append(helper.make_tensor_value_info(name, TensorProto.INT64, ["N"]))
            inits.append(numpy_helper.from_array(np.array(2, np.int64), f"true_{name}"))
            nodes += [
                helper.make_node("Equal", [name, f"true_{name}"], [f"is_{name}"]),
                helper.make_node("Cast", [f"is_{name}"], [f"x_{name}"], to=TensorProto.FLOAT),
            ]
        else:
            values = table[name].cast(pl.Float64).drop_nulls()
            centre = float(values.median() or 0.0)  # type: ignore[arg-type]
            scale = float(values.std() or 1.0) or 1.0  # type: ignore[arg-type]
            centres[name] = (centre, scale)
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N"]))
            inits += [
                numpy_helper.from_array(np.array(centre, np.float32), f"c_{name}"),
                numpy_helper.from_array(np.array(scale, np.float32), f"s_{name}"),
                numpy_helper.from_array(np.array(0.0, np.float32), f"zero_{name}"),
            ]
            nodes += [
                helper.make_node("Sub", [name, f"c_{name}"], [f"d_{name}"]),
                helper.make_node("Div", [f"d_{name}", f"s_{name}"], [f"z_{name}"]),
                helper.make_node("IsNaN", [f"z_{name}"], [f"nan_{name}"]),
                helper.make_node(
                    "Where", [f"nan_{name}", f"zero_{name}", f"z_{name}"], [f"x_{name}"]
                ),
            ]
        nodes.append(helper.make_node("Mul", [f"x_{name}", w], [f"t_{name}"]))
        contributions.append(f"t_{name}")
    nodes.append(helper.make_node("Sum", ["bias", *contributions], ["logit"]))
    nodes.append(helper.make_node("Sigmoid", ["logit"], ["score"]))
    graph = helper.make_graph(
        nodes,
        "product_model",
        inputs,
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N"])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    for key, value in {
        "shuyu.scenario": scenario,
        "shuyu.preprocessing": _preprocessing(terms, centres),
    }.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    return model


def registered_version(
    product: ApiProduct,
    model: onnx.ModelProto,
    *,
    version: str = "3",
    key: bytes = APPROVAL_KEY,
    record_files: dict[str, bytes] | None = None,
) -> VerifiedModel:
    """What `load_approved` returns for a version the gate registered after approval:
    its files and tags (the gate's digests, the signed approval record)."""
    files = {
        "model.onnx": model.SerializeToString(),
        "MLmodel": b"flavors:\n  onnx:\n    data: model.onnx\n",
    }
    approved_files = record_files if record_files is not None else files
    digests = {name: sha256_bytes(data) for name, data in approved_files.items()}
    scenario, _, partner = product.model.partition(".")
    record = ApprovalRecord(
        submission_id="20260701-abcd1234",
        scenario=scenario,
        partner=partner,
        submitter="sz-credit",
        model_name=product.model,
        run_id="0" * 32,
        levels=[
            LevelApproval(
                level=level, name=level, reviewers=[(f"rv-{level}", "2026-07-01T09:00:00")]
            )
            for level in ("provider", "expert", "bureau")
        ],
        report_sha256="1" * 64,
        notebook_sha256="2" * 64,
        model_digests=digests,
        privacy="certified ε=2.9 δ=1e-05",
    )
    tags = {**approval_tags(record, key), DIGESTS_TAG: encode(digests)}
    return VerifiedModel(
        ModelVersion(
            name=product.model,
            version=version,
            source=f"mlflow-artifacts:/1/{version}/artifacts/model",
            run_id="f" * 32,
            tags=tags,
            aliases=["approved"],
        ),
        files,
    )


def build_world(base: Path, *, n: int = 300) -> World:
    policies = load_policies()
    products = load_products_policy(policies)
    raw = raw_frames(policies, n=n)
    write_raw(base / "raw", raw)
    mask_directory(base / "raw", base / "masked", policies=policies, key=MASKING_KEY)
    models: dict[str, ApprovedModel] = {}
    for product, terms in (
        (products.product("enterprise_credit"), ENTERPRISE_TERMS),
        (products.product("health_underwriting"), PERSON_TERMS),
    ):
        assert product is not None
        table, manifest = build_feature_table(base / "masked", policies, product)
        write_feature_table(base / "tables", table, manifest)
        onnx_model = logistic_model(terms, table, scenario=product.scenario)
        models[product.id] = approved_model(
            registered_version(product, onnx_model), product=product, approval_key=APPROVAL_KEY
        )
    return World(policies, products, raw, base / "masked", base / "tables", models)


def product_service(
    world: World,
    db: Database,
    now: Callable[[], dt.datetime],
    *,
    notify: Callable[[dict[str, object]], None] = lambda _n: None,
    products: ProductsPolicy | None = None,
) -> ProductService:
    chosen = products or world.products
    return build_product_service(
        db,
        policies=lambda: world.policies,
        products=chosen,
        hasher=KeyHasher(PEPPER),
        masking_key=MASKING_KEY,
        tables=world.tables,
        models=lambda product: world.models[product.id],
        notify=notify,
        clock=Clock(chosen.monitoring.timezone, now),
    )
