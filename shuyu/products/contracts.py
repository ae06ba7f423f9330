"""What a consumer sends and gets back: the product API's requests and responses."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shuyu.policy.base import SnakeId
from shuyu.products.refusals import Code


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubjectRef(_Body):
    id: str = Field(
        min_length=15,
        max_length=32,
        description="统一社会信用代码 (enterprise products) or 居民身份证号 (personal products)",
    )
    consent_id: str | None = Field(
        default=None,
        max_length=32,
        description="the consent record to rely on (personal products; default: the subject's "
        "valid consent for this purpose)",
    )


class ScoreRequest(_Body):
    purpose: SnakeId = Field(description="the use, as the usage agreement permits it")
    subject: SubjectRef | None = Field(default=None, description="one subject")
    subjects: list[SubjectRef] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="a batch (up to the product's batch limit); per-subject errors in the results",
    )

    @model_validator(mode="after")
    def _one_form(self) -> ScoreRequest:
        if (self.subject is None) == (self.subjects is None):
            raise ValueError("send either `subject` or `subjects`, not both or neither")
        return self

    @property
    def refs(self) -> list[SubjectRef]:
        return [self.subject] if self.subject is not None else list(self.subjects or [])

    @property
    def is_batch(self) -> bool:
        return self.subjects is not None


class ErrorOut(BaseModel):
    code: Code
    message: str = Field(description="中文说明")
    message_en: str
    case: str = Field(default="", description="the 事中检查 case number, for key_blocked")


class ErrorResponse(BaseModel):
    request_id: str
    error: ErrorOut


class FactorOut(BaseModel):
    feature: str = Field(description="the declared feature the factor is about")
    direction: Literal["raises", "lowers"] = Field(description="what it does to the score")
    label: str
    label_en: str


class ScoreItem(BaseModel):
    index: int = Field(description="the subject's position in the request")
    ok: bool
    score: float | None = None
    grade: str | None = None
    grade_name: str | None = None
    grade_name_en: str | None = None
    factors: list[FactorOut] = Field(default_factory=list)
    consent_id: str | None = None
    error: ErrorOut | None = None


class ScoreResponse(BaseModel):
    request_id: str
    product: str
    model: str = Field(description="the approved model version that scored")
    purpose: str
    results: list[ScoreItem]
