"""Request and response models of the HTTP API (the only place they live)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class RetrieverScoreOut(BaseModel):
    score: float
    rank: int


class HitOut(BaseModel):
    entry_id: str
    kind: str
    score: float = Field(description="fused score (reciprocal-rank fusion by default)")
    matched_text: str
    matched_field: str
    retrievers: dict[str, RetrieverScoreOut]
    entry: dict[str, Any]


class SearchResponse(BaseModel):
    shop_id: str
    query: str
    version: int
    hits: list[HitOut]

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "shop_id": "demo-pdd",
                    "query": "这个杯子能装开水吗",
                    "version": 1,
                    "hits": [
                        {
                            "entry_id": "pdd-faq-01",
                            "kind": "faq",
                            "score": 0.0328,
                            "matched_text": "保温杯能装开水吗",
                            "matched_field": "question",
                            "retrievers": {"dense": {"score": 0.93, "rank": 1}},
                            "entry": {
                                "kind": "faq",
                                "question": "保温杯能装开水吗",
                                "answer": "可以的亲~",
                            },
                        }
                    ],
                }
            ]
        }
    }


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
