"""Heavy objects load in an idempotent `warm_up()`, called from the service's lifespan or a CLI
job, never at import or construction. A stage that loads nothing simply lacks the method; the
callers ask with isinstance(stage, SupportsWarmUp) instead of probing attributes."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class SupportsWarmUp(Protocol):
    def warm_up(self) -> None:
        """Load what the first request would otherwise wait for; a second call does nothing."""
        ...
