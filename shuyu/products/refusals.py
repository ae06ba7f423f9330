"""Why a product call is refused: one typed code each, with its HTTP status and its
words in Chinese and English. The API's OpenAPI schema lists these codes; consumers
branch on the code, people read the message."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shuyu.errors import ShuyuError


class Code(StrEnum):
    KEY_MISSING = "key_missing"
    KEY_INVALID = "key_invalid"
    KEY_REVOKED = "key_revoked"
    KEY_BLOCKED = "key_blocked"
    CONSUMER_SUSPENDED = "consumer_suspended"
    PRODUCT_UNKNOWN = "product_unknown"
    AGREEMENT_MISSING = "agreement_missing"
    AGREEMENT_NOT_YET_VALID = "agreement_not_yet_valid"
    AGREEMENT_EXPIRED = "agreement_expired"
    PURPOSE_NOT_PERMITTED = "purpose_not_permitted"
    BATCH_TOO_LARGE = "batch_too_large"
    QUOTA_EXCEEDED = "quota_exceeded"
    IDENTIFIER_INVALID = "identifier_invalid"
    SUBJECT_UNKNOWN = "subject_unknown"
    CONSENT_MISSING = "consent_missing"
    CONSENT_EXPIRED = "consent_expired"
    CONSENT_OTHER_PURPOSE = "consent_other_purpose"
    PRODUCT_UNAVAILABLE = "product_unavailable"
    FILING_STALE = "filing_stale"
    FROZEN = "frozen"


@dataclass(frozen=True)
class CodeInfo:
    status: int
    zh: str
    en: str


CODES: dict[Code, CodeInfo] = {
    Code.KEY_MISSING: CodeInfo(
        401, "缺少 API 密钥（请在 Authorization: Bearer 头中提供）",
        "no API key (send it as Authorization: Bearer <key>)",
    ),
    Code.KEY_INVALID: CodeInfo(401, "API 密钥无效", "the API key is not valid"),
    Code.KEY_REVOKED: CodeInfo(
        401, "API 密钥已吊销或已轮换，请使用新密钥",
        "the API key was revoked or rotated: use the new key",
    ),
    Code.KEY_BLOCKED: CodeInfo(
        403, "API 密钥因事中检查被拦截，待人工核查后由管理员解除",
        "the API key is blocked by monitoring until the bureau's manual check clears it",
    ),
    Code.CONSUMER_SUSPENDED: CodeInfo(
        403, "使用单位已被暂停服务", "the consumer's access is suspended"
    ),
    Code.PRODUCT_UNKNOWN: CodeInfo(404, "无此数据产品", "no such data product"),
    Code.AGREEMENT_MISSING: CodeInfo(
        403, "未签订该产品的使用协议", "no usage agreement for this product"
    ),
    Code.AGREEMENT_NOT_YET_VALID: CodeInfo(
        403, "使用协议尚未生效", "the usage agreement is not in force yet"
    ),
    Code.AGREEMENT_EXPIRED: CodeInfo(403, "使用协议已到期", "the usage agreement has expired"),
    Code.PURPOSE_NOT_PERMITTED: CodeInfo(
        403, "使用协议不允许该用途", "the usage agreement does not permit this purpose"
    ),
    Code.BATCH_TOO_LARGE: CodeInfo(
        413, "批量查询超过该产品的单次上限", "the batch exceeds the product's limit per request"
    ),
    Code.QUOTA_EXCEEDED: CodeInfo(
        429, "已超出使用协议的调用额度", "the agreement's call quota is used up"
    ),
    Code.IDENTIFIER_INVALID: CodeInfo(
        422, "主体标识不是有效的统一社会信用代码或居民身份证号",
        "the subject is not a valid unified social credit code or resident ID",
    ),
    Code.SUBJECT_UNKNOWN: CodeInfo(
        404, "域内无该主体的数据", "no data on this subject in the domain"
    ),
    Code.CONSENT_MISSING: CodeInfo(
        403, "无该主体的有效授权记录（个人授权书）", "no consent record from this subject"
    ),
    Code.CONSENT_EXPIRED: CodeInfo(403, "该主体的授权已过期", "the subject's consent has expired"),
    Code.CONSENT_OTHER_PURPOSE: CodeInfo(
        403, "该主体的授权不包含此用途", "the subject's consent is for another purpose"
    ),
    Code.PRODUCT_UNAVAILABLE: CodeInfo(
        503, "产品模型暂不可用（无通过审核的版本或校验未通过）",
        "the product's model is not available (no approved version, or it failed verification)",
    ),
    Code.FILING_STALE: CodeInfo(
        503, "产品未登记备案或备案内容已变更（备案失效），重新备案前暂停服务",
        "the product is not filed, or what was filed changed: not served until it is re-filed",
    ),
    Code.FROZEN: CodeInfo(
        403, "已按应急处置冻结，解除冻结前暂停服务",
        "frozen by the incident procedure: not served until the freeze is lifted",
    ),
}  # fmt: skip

CONSENT_FAILURES = frozenset(
    {Code.CONSENT_MISSING, Code.CONSENT_EXPIRED, Code.CONSENT_OTHER_PURPOSE}
)


class Refusal(ShuyuError):
    """A refused call (or one refused subject of a batch)."""

    def __init__(self, code: Code, detail: str = "", *, case: str = "") -> None:
        self.code = code
        self.detail = detail
        self.case = case
        self.audited = False  # its audit event is already written
        self.request_id = ""
        info = CODES[code]
        self.status = info.status
        tail = f" ({detail})" if detail else ""
        case_zh = f"，案件编号 {case}" if case else ""
        case_en = f", case {case}" if case else ""
        self.zh = f"{info.zh}{case_zh}{tail}"
        self.en = f"{info.en}{case_en}{tail}"
        super().__init__(f"{code.value}: {self.en}")
