"""The one settings class. Every value comes from COPILOT_* environment variables (or .env).

Lower layers never read the environment: they receive plain config objects built here.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from copilot.clock import Clock, SystemClock
from copilot.llm.assets import DraftingModel
from copilot.llm.backends import LLMConfig
from copilot.llm.draft_gate import MEASURED as MEASURED_GATE
from copilot.llm.draft_gate import DraftGate
from copilot.llm.drafting import DraftConfig
from kb.retrieval import RetrievalConfig
from kb.storage.redis_conn import RedisConfig


def _default_data_dir() -> Path:
    return platformdirs.user_data_path("copilot")


def _default_models_dir() -> Path:
    return platformdirs.user_cache_path("copilot") / "models"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COPILOT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default_factory=_default_data_dir, description="all state (embedded Redis)"
    )
    models_dir: Path = Field(default_factory=_default_models_dir, description="assembled models")
    redis_url: str | None = Field(default=None, description="external Redis; unset: embedded")

    embedding_backend: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="onnx: ONNX Runtime (fast, no torch); torch: sentence-transformers",
    )
    embedding_model_dir: Path | None = Field(
        default=None,
        description="onnx: a folder made by `copilot setup`; torch: a sentence-transformers folder",
    )
    embedding_batch_size: int = Field(default=32, ge=1, le=1024)
    threads: int | None = Field(default=None, ge=1, description="inference threads per process")
    embedder_threads: int | None = Field(
        default=None,
        ge=1,
        description="ONNX embedder threads per query (default: `threads`); 1 serves more "
        "concurrent requests per core, more answer a lone request sooner",
    )

    fusion: Literal["rrf", "weighted"] = "rrf"
    dense_weight: float = Field(default=1.5, ge=0)
    keyword_weight: float = Field(default=1.0, ge=0)
    rrf_k: int = Field(default=60, ge=1)
    retrieval_candidates: int = Field(default=50, ge=1, le=1000)
    kind_hint_weight: float = Field(
        default=1.0, ge=0, description="price/deal words favour products/promotions"
    )

    llm_backend: Literal["llama_cpp", "transformers", "openai", "none"] = Field(
        default="llama_cpp",
        description="who drafts: in-process llama.cpp or transformers, an "
        "OpenAI-compatible server (vLLM, TGI, llama.cpp server), or none",
    )
    llm_gguf: Path | None = Field(
        default=None, description="a GGUF file; unset: the assembled Qwen"
    )
    llm_requantised: bool = Field(
        default=True,
        description="llama_cpp backend: draft with the IQ4_NL copy `copilot setup` makes of the "
        "Qwen (1.7x faster prompts on CPU); false: the pinned Q4_K_M as shipped",
    )
    llm_drafting_model: DraftingModel = Field(
        default="qwen2.5-coder-0.5b",
        description="which assembled Qwen drafts (llama_cpp, transformers): the 0.5B, or the "
        "1.5B (`copilot setup --llm-1.5b`; 2.3x the size, slower on CPU: bench/README.md)",
    )
    llm_gate_file: Path | None = Field(
        default=MEASURED_GATE,
        description="a draft gate (`copilot eval run` writes DIR/draft_gate.json): only its "
        "intents, where drafts were judged at least as good as retrieval, are drafted; default: "
        "the gate the unseen shops' blind-graded drafts support (copilot/data/draft_gate.json); "
        "'everywhere': drafted on every intent",
    )
    llm_base_url: str = Field(default="", description="openai backend: e.g. http://gpu-box:8000/v1")
    llm_model: str = Field(default="", description="openai backend: the served model name")
    llm_api_key: str | None = None
    # The retrieval stages hold the GIL most of the time, so more threads only contend: on 2
    # cores 1 served 104 req/s, 2 served 89, unlimited 78 (bench/service_speed.py).
    concurrent_retrievals: int = Field(
        default=1,
        ge=1,
        description="suggestions in their retrieval stages at once per process (LLM drafts "
        "are not counted), and the threads that serve /v1/suggest without the LLM; they hold "
        "the GIL most of the time, so scale out with more processes rather than raising this",
    )
    metadata_max_age: float = Field(
        default=0.5,
        ge=0,
        description="seconds a replica may answer from its last read of the set of shops, "
        "their KB and history versions and their policies (kb/storage/recent.py) instead of five "
        "Redis "
        "round trips a suggestion. Its own writes are seen at once, another replica's KB "
        "change at its announcement (else within this), so within the 2 s goal. 0: read "
        "every time",
    )
    index_cache_mb: float = Field(
        default=1024,
        ge=0,
        description="MiB of shop indexes a process keeps in memory (KB indexes and history "
        "banks together: vectors, keyword indexes, cached filters, estimated per shop); past "
        "it the least recently used shops are dropped and rebuilt from Redis on their next "
        "request (bench/many_shops.py)",
    )
    warm_shops: bool = Field(
        default=True,
        description="build shops' indexes at start, as many as the index cache holds; false "
        "for replicas behind a balancer that routes by shop, so each fills its cache only "
        "with the shops sent to it",
    )
    llm_first_token_timeout: float = Field(default=2.0, gt=0)
    llm_total_timeout: float = Field(default=8.0, gt=0)
    llm_max_tokens: int = Field(default=96, ge=8, le=1024)

    load_demo_shops: bool = Field(
        default=True, description="load the demo shops into an empty store"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    # --- service core: keys, limits, conversations, cache ---
    rate_limit_per_minute: int = Field(
        default=1200, ge=0, description="requests per API key per minute; 0: no limit"
    )
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="larger bodies: 413")
    max_upload_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="KB and chat-log uploads: larger: 413"
    )
    max_turns: int = Field(default=200, ge=1, description="turns per request/conversation: 422")
    max_turn_chars: int = Field(default=2000, ge=10, description="characters per turn: 422")
    conversation_ttl_hours: float = Field(default=72, gt=0, description="stored turns expire")
    suggestion_ttl_days: float = Field(default=30, gt=0, description="suggestion records expire")
    cache_enabled: bool = Field(default=True, description="cache suggestions (without LLM)")
    cache_ttl_seconds: int = Field(default=600, ge=1)
    suggest_timeout: float = Field(
        default=30.0, gt=0, description="seconds a /v1/suggest may take before 503"
    )
    create_admin_key: bool = Field(
        default=True,
        description="on first start with no key: create an admin key, write it to "
        "DATA_DIR/admin-key (mode 0600) and print that file's path",
    )
    auth_failures_per_minute: int = Field(
        default=30,
        ge=0,
        description="requests with an unknown or revoked key per client address per minute; "
        "past it that address gets 429 for any key this process has not verified yet (so "
        "keys are not guessed, and a valid key elsewhere is not locked out); 0: no limit",
    )
    public_docs: bool = Field(
        default=False,
        description="/docs, /redoc and /openapi.json answer without a key; false: they need "
        "one (any role), so a browser cannot open /docs",
    )
    public_metrics: bool = Field(
        default=False,
        description="/metrics answers without a key; false: Prometheus sends one (any role)",
    )
    max_streams: int = Field(
        default=32,
        ge=1,
        description="SSE suggestion streams at once per process, each on a thread of a pool "
        "this big; one more gets 503 with Retry-After",
    )
    max_stats_events: int = Field(
        default=100_000,
        ge=10,
        description="suggestion records, and feedback events, one stats or gaps request reads "
        "at most (the newest of its window); past it the response says `truncated`",
    )
    today: date | None = Field(
        default=None,
        description="the day every date decision counts from (promotion validity, stale "
        "knowledge, record timestamps), time still flowing; unset: today in China",
    )

    @field_validator("llm_gate_file", mode="before")
    @classmethod
    def _everywhere(cls, value: object) -> object:
        """COPILOT_LLM_GATE_FILE=everywhere (or empty): no gate, drafts on every intent."""
        return None if isinstance(value, str) and value.strip() in ("", "everywhere") else value

    def clock(self) -> Clock:
        """The one clock: the wiring hands it to every layer that decides by date."""
        return SystemClock.on(self.today) if self.today else SystemClock()

    def index_cache_bytes(self) -> int:
        return int(self.index_cache_mb * 1024 * 1024)

    def redis_config(self) -> RedisConfig:
        return RedisConfig(url=self.redis_url, data_dir=self.data_dir)

    def retrieval_config(self) -> RetrievalConfig:
        return RetrievalConfig(
            fusion=self.fusion,
            dense_weight=self.dense_weight,
            keyword_weight=self.keyword_weight,
            rrf_k=self.rrf_k,
            candidates=self.retrieval_candidates,
            kind_hint_weight=self.kind_hint_weight,
        )

    def llm_config(self) -> LLMConfig:
        from copilot.model_setup import drafting_gguf

        backend = "llama_cpp" if self.llm_backend == "none" else self.llm_backend
        return LLMConfig(
            backend=backend,
            gguf_path=self.llm_gguf
            or drafting_gguf(
                self.models_dir,
                backend,
                requantised=self.llm_requantised,
                model=self.llm_drafting_model,
            ),
            cache_dir=self.models_dir,
            threads=self.threads,
            base_url=self.llm_base_url,
            model=self.llm_model,
            api_key=self.llm_api_key,
        )

    def draft_config(self) -> DraftConfig:
        gate = DraftGate.load(self.llm_gate_file) if self.llm_gate_file else DraftGate()
        return DraftConfig(
            max_tokens=self.llm_max_tokens,
            first_token_timeout=self.llm_first_token_timeout,
            total_timeout=self.llm_total_timeout,
            gate=gate,
        )

    def embedder_dir(self) -> Path:
        from copilot.model_setup import embedder_dir, onnx_embedder_dir

        if self.embedding_model_dir:
            return self.embedding_model_dir
        if self.embedding_backend == "onnx":
            return onnx_embedder_dir(self.models_dir)
        return embedder_dir(self.models_dir)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
