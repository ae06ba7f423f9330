"""The deletion certificate (删除证明) of an exit: what was deleted, each item with its
sha256 and time, and what a separate verification pass found when it looked for each
item again. Canonical JSON (sorted keys, no spaces) is what is stored and hashed: the
certificate's sha256 is the sha256 of those bytes, so a certificate changed after it was
stored no longer matches its own record, nor the `exit.certificate` audit event.

Documents: HTML in Chinese (the certificate the bureau accepts) or English, and JSON.
"""

from __future__ import annotations

import hashlib
import json
from enum import StrEnum

from pydantic import BaseModel, Field

from shuyu.governance.documents import TEMPLATES, in_language


class ItemKind(StrEnum):
    VOLUME = "volume"
    CONTAINER = "container"
    RUN = "run"
    LOGGED_MODEL = "logged_model"
    ARTIFACT = "artifact"
    REGISTERED_VERSION = "registered_version"
    OUTBOX_FILE = "outbox_file"
    JOB_FILE = "job_file"
    API_KEY = "api_key"

    @property
    def zh(self) -> str:
        return _KIND_ZH[self]


_KIND_ZH = {
    ItemKind.VOLUME: "工作区卷",
    ItemKind.CONTAINER: "沙箱容器",
    ItemKind.RUN: "MLflow 运行",
    ItemKind.LOGGED_MODEL: "MLflow 记录模型",
    ItemKind.ARTIFACT: "MLflow 制品文件",
    ItemKind.REGISTERED_VERSION: "注册模型版本",
    ItemKind.OUTBOX_FILE: "发布区文件",
    ItemKind.JOB_FILE: "生产任务文件",
    ItemKind.API_KEY: "接口密钥",
}


class DeletedItem(BaseModel):
    """One thing deleted. `sha256`: of the file's bytes (files, artifacts), read before
    deletion; of the sorted listing with sizes and per-file sha256 (a volume); of the
    canonical JSON of its record (a container, run, version, key)."""

    kind: ItemKind
    identifier: str
    sha256: str
    size: int = 0
    deleted_at: str
    detail: str = ""


class Check(BaseModel):
    """The verification pass's finding for one item: `absent` is what must be true."""

    kind: ItemKind
    identifier: str
    absent: bool
    how: str
    checked_at: str


class Certificate(BaseModel):
    exit_id: str
    kind: str  # partner | consumer
    subject: str
    subject_name: str = ""
    reason: str
    exited_by: str
    exit_date: str
    deadline: str
    revoked: dict[str, list[str]] = Field(default_factory=dict)
    transferred: list[str] = Field(default_factory=list)
    items: list[DeletedItem] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    verified_at: str = ""

    @property
    def verified(self) -> bool:
        return bool(self.checks) and all(c.absent for c in self.checks) and self.covers_items

    @property
    def covers_items(self) -> bool:
        """Every deleted item was looked for again."""
        return {(i.kind, i.identifier) for i in self.items} <= {
            (c.kind, c.identifier) for c in self.checks
        }

    @property
    def found_again(self) -> list[Check]:
        return [c for c in self.checks if not c.absent]

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for item in self.items:
            found[item.kind.value] = found.get(item.kind.value, 0) + 1
        return found


def canonical(certificate: Certificate) -> str:
    return json.dumps(
        certificate.model_dump(mode="json"), ensure_ascii=False, sort_keys=True,
        separators=(",", ":"),
    )  # fmt: skip


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record_sha256(record: object) -> str:
    """The sha256 of a record's canonical JSON (what a container, run or key was)."""
    return sha256_text(json.dumps(record, ensure_ascii=False, sort_keys=True, default=str))


# ---------------------------------------------------------------- documents

LABELS: dict[str, tuple[str, str]] = {
    "title": ("数据删除证明", "Deletion certificate"),
    "exit": ("退出编号", "Exit no."),
    "partner": ("合伙人", "Partner"),
    "consumer": ("使用单位", "Consumer"),
    "reason": ("退出原因", "Reason"),
    "by": ("执行人", "Run by"),
    "exit_date": ("退出日期", "Exit date"),
    "deadline": ("删除及验收期限（退出之日起 30 日）", "Deadline (30 days from the exit)"),
    "revoked": ("已收回的权限", "Access revoked"),
    "transferred": ("移交保留（不删除）", "Transferred (kept)"),
    "items": ("已删除项目", "Deleted"),
    "kind": ("类别", "Kind"),
    "identifier": ("标识", "Identifier"),
    "sha256": ("sha256", "sha256"),
    "size": ("字节", "Bytes"),
    "deleted_at": ("删除时间", "Deleted at"),
    "checks": ("核验", "Verification"),
    "checked_at": ("核验时间", "Checked at"),
    "how": ("核验方式", "How"),
    "absent": ("已不存在", "absent"),
    "present": ("仍然存在", "STILL PRESENT"),
    "verified": ("核验结论：所列项目均已不存在。", "Verified: none of the items exists any more."),
    "failed": ("核验结论：以下项目仍然存在。", "Verification failed: these items still exist."),
    "none": ("无", "none"),
    "digest": ("本证明 sha256", "This certificate's sha256"),
    "digest_note": (
        "证明的规范化 JSON 的 sha256，已记入哈希链审计日志（exit.certificate）；"
        "内容被改动即与此不符。",
        "The sha256 of the certificate's canonical JSON, recorded in the hash-chained audit "
        "log (exit.certificate); a changed certificate no longer matches it.",
    ),
}


def certificate_html(certificate: Certificate, sha256: str, *, lang: str = "zh") -> str:
    en = lang == "en"
    return TEMPLATES.get_template("exit_certificate.html").render(
        c=certificate, sha256=sha256, L=in_language(LABELS, lang), en=en
    )


def certificate_json(certificate: Certificate) -> str:
    """The stored bytes themselves: their sha256 is the certificate's."""
    return canonical(certificate)
