"""Approved models handed from the shuyu service to the product API's own container.

The product API faces consumers outside the domain, so its container holds no MLflow
credential and no approval key (an HMAC key that verifies also signs). The service holds
both: `publish_approved` verifies each product's `approved` version there (the gate's
digests, the signed approval record, the files) and publishes the files with their
record to a folder only the service writes. `PublishedModels`, in the product API,
reads that folder read-only and checks every file's sha256 against the record again
before a model is served; a product whose approval is gone is withdrawn, so it stops
being served at the next reload.

    <root>/<product>/current.json       which publication is live (replaced atomically)
    <root>/<product>/<version>-<sha>/    the approved files and approval.json
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict

from shuyu.audit.events import audit_event
from shuyu.errors import ShuyuError
from shuyu.fsutil import atomic_write_bytes, atomic_write_text
from shuyu.policy.models import ApiProduct, ProductsPolicy
from shuyu.products.approved_model import (
    ApprovedModel,
    ModelRefused,
    approved_model,
    servable_model,
)
from shuyu.registry.approval import ApprovalRecord
from shuyu.registry.approved import ModelChanged, NotApproved, VerifiedModel, load_approved
from shuyu.tracking.store_client import MlflowStore

_log = logging.getLogger("shuyu.products.published")

CURRENT = "current.json"
RECORD = "approval.json"
PUBLISHER = "shuyu-service"


class Publication(BaseModel):
    """What `current.json` says: the live publication of one product."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    product: str
    model: str
    version: str
    folder: str
    onnx_sha256: str
    published_at: str


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ModelRefused(f"approved file name {name!r} is not a plain relative path")
    return path


@dataclass(frozen=True)
class PublishOutcome:
    product: str
    state: str  # published | kept | withdrawn | unchanged-error
    detail: str


def current_publication(folder: Path) -> Publication | None:
    """The live publication in a product's folder, if any."""
    try:
        return Publication.model_validate_json((folder / CURRENT).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def withdraw(folder: Path, product: ApiProduct, reason: str) -> bool:
    current = folder / CURRENT
    if not current.exists():
        return False
    current.unlink()
    audit_event("product.model.withdraw", PUBLISHER, "allowed", product=product.id, reason=reason)
    return True


def _prune(folder: Path, keep: set[str]) -> None:
    """Older publications go; the one before stays a while, in case a reload that began
    before the switch is still reading it."""
    for child in folder.iterdir():
        if child.is_dir() and child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)


def publish_product(
    store: MlflowStore, product: ApiProduct, approval_key: bytes, root: Path
) -> PublishOutcome:
    try:
        return publish_verified(load_approved(store, product.model), product, approval_key, root)
    except (NotApproved, ModelChanged, ModelRefused) as refused:
        # a definite answer from the registry: whatever was published is no longer approved
        withdrawn = withdraw(root / product.id, product, str(refused))
        return PublishOutcome(product.id, "withdrawn" if withdrawn else "none", str(refused))


def publish_verified(
    verified: VerifiedModel, product: ApiProduct, approval_key: bytes, root: Path
) -> PublishOutcome:
    """Publish `verified` for `product` once its approval record verifies (raises
    `ModelRefused` otherwise); a publication already live is kept as it is."""
    model = approved_model(verified, product=product, approval_key=approval_key)
    folder = root / product.id
    name = f"v{model.version}-{model.onnx_sha256[:12]}"
    previous = current_publication(folder)
    if previous is not None and previous.folder == name and (folder / name).is_dir():
        return PublishOutcome(product.id, "kept", f"{model.label} already published")
    target = folder / name
    shutil.rmtree(target, ignore_errors=True)
    for file, data in verified.files.items():
        atomic_write_bytes(target / _safe_name(file), data)
    atomic_write_text(target / RECORD, model.record.model_dump_json())
    publication = Publication(
        product=product.id,
        model=model.name,
        version=model.version,
        folder=name,
        onnx_sha256=model.onnx_sha256,
        published_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    atomic_write_text(folder / CURRENT, publication.model_dump_json())
    _prune(folder, {name, previous.folder} if previous else {name})
    audit_event(
        "product.model.publish",
        PUBLISHER,
        "allowed",
        product=product.id,
        model=model.name,
        version=model.version,
        onnx_sha256=model.onnx_sha256,
    )
    return PublishOutcome(product.id, "published", f"{model.label} ({model.onnx_sha256[:12]})")


def publish_approved(
    store: MlflowStore, products: ProductsPolicy, approval_key: bytes, root: Path
) -> list[PublishOutcome]:
    """Publish every product's approved version, or withdraw it; a registry that does not
    answer leaves what was published in place (an outage is not a revocation)."""
    outcomes: list[PublishOutcome] = []
    for product in products.products:
        try:
            outcomes.append(publish_product(store, product, approval_key, root))
        except (ShuyuError, OSError) as exc:
            _log.warning("product %s: not published this time: %s", product.id, exc)
            outcomes.append(PublishOutcome(product.id, "unchanged-error", str(exc)))
    return outcomes


class PublishedModels:
    """The product API's model source: what the service published, checked again."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def stamp(self) -> tuple[tuple[str, int], ...]:
        """Changes whenever a publication is made or withdrawn (the API then reloads)."""
        found: list[tuple[str, int]] = []
        for current in sorted(self.root.glob(f"*/{CURRENT}")):
            try:
                found.append((current.parent.name, current.stat().st_mtime_ns))
            except FileNotFoundError:
                continue
        return tuple(found)

    def __call__(self, product: ApiProduct) -> ApprovedModel:
        folder = self.root / product.id
        publication = current_publication(folder)
        if publication is None:
            raise ModelRefused(
                f"product {product.id}: no approved version of {product.model} has been "
                "published by the shuyu service (尚无已批准并发布的模型版本)"
            )
        where = folder / _safe_name(publication.folder)
        try:
            record = ApprovalRecord.model_validate_json(
                (where / RECORD).read_text(encoding="utf-8")
            )
            files = {name: (where / _safe_name(name)).read_bytes() for name in record.model_digests}
        except (FileNotFoundError, ValueError) as exc:
            raise ModelRefused(
                f"product {product.id}: the published {publication.model} "
                f"v{publication.version} is incomplete ({exc}); not served"
            ) from None
        return servable_model(
            record, files, product=product, name=publication.model, version=publication.version
        )


@dataclass
class Publisher:
    """The service's worker step: publish at most every `interval` seconds (a registry
    read per product), and at once after an approval (`due()`)."""

    store: MlflowStore
    products: Callable[[], ProductsPolicy]
    approval_key: bytes
    root: Path
    interval: float = 30.0
    last: float = float("-inf")

    def due(self) -> None:
        self.last = float("-inf")

    def __call__(self) -> list[PublishOutcome]:
        now = time.monotonic()
        if now - self.last < self.interval:
            return []
        self.last = now
        outcomes = publish_approved(self.store, self.products(), self.approval_key, self.root)
        for outcome in outcomes:
            if outcome.state in {"published", "withdrawn"}:
                _log.info("product %s: %s (%s)", outcome.product, outcome.state, outcome.detail)
        return outcomes
