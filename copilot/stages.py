"""The seams of the pipeline: what Suggester (copilot/pipeline.py) asks of its stages.

Each Protocol has the one method the pipeline calls; a fake, a local model or a remote service
can stand behind it. The knowledge stage is kb.source.KnowledgeSource and the drafting stage
copilot.llm.drafting.Generator; warm-up is kb.lifecycle.SupportsWarmUp. The optional hooks
below let a stage use the time between a customer's messages; a stage without them is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from copilot.types import Conversation, HistoryHit, Intent, ShopPolicy, Turn

if TYPE_CHECKING:
    from copilot.llm.drafting import ChatMessage
    from kb.models.embedder import Vectors


class IntentStage(Protocol):
    def classify(self, conversation: Conversation) -> Intent: ...


class PolicySource(Protocol):
    def get(self, shop_id: str) -> ShopPolicy:
        """The shop's settings (copilot.policies.PolicyStore; defaults while Redis is down)."""
        ...


class HistoryStage(Protocol):
    def search(
        self,
        shop_id: str,
        message: str,
        context: Sequence[Turn] = (),
        k: int = 3,
        *,
        intent: str | None = None,
        query_vector: Vectors | None = None,
    ) -> Sequence[HistoryHit]:
        """The shop's past replies that fit `message` after `context`, best first."""
        ...


@runtime_checkable
class SupportsPrepare(Protocol):
    def prepare(self, conversation: Conversation) -> None:
        """Do now what the customer's next message would wait for (embed the agent's reply)."""
        ...


@runtime_checkable
class SupportsPrefill(Protocol):
    def prefill(self, messages: Sequence[ChatMessage]) -> int:
        """Evaluate the prompt's fixed part and earlier turns ahead of the next draft."""
        ...
