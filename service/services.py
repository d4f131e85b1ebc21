"""Everything a request uses, built once when the app starts (service/main.py) and handed out
typed: a route takes `services: ServicesDep`; code given only the app calls services_of(app).

One object rather than attributes scattered on app.state: a reader sees in one place what the
service holds, and mypy checks every use.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated

import redis
from fastapi import Depends, FastAPI, Request

from copilot.clock import Clock
from copilot.feedback.log import FeedbackLog
from copilot.pipeline import Suggester
from kb.knowledge import KnowledgeBase
from kb.storage.redis_watchdog import EmbeddedWatchdog
from service.cache import SuggestionCache
from service.conversations import ConversationStore
from service.errors import ServiceError
from service.kb_sync import KBSync
from service.keys import KeyStore
from service.limits import AuthFailureLimiter, RateLimiter
from service.records import SuggestionRecords
from service.selector_jobs import SelectorJobs
from service.settings import Settings
from service.stream_control import CancelListener, StreamSlots


@dataclass
class Services:
    settings: Settings
    clock: Clock  # the one clock, from the settings
    kb: KnowledgeBase
    suggester: Suggester
    offline_suggester: Suggester  # the same models over held indexes only: Redis is down
    redis: redis.Redis
    keys: KeyStore
    records: SuggestionRecords
    feedback: FeedbackLog
    kb_sync: KBSync
    rate_limiter: RateLimiter
    auth_failures: AuthFailureLimiter
    conversations: ConversationStore
    cache: SuggestionCache
    cancel_listener: CancelListener
    redis_watchdog: EmbeddedWatchdog | None  # only for the embedded server this app started
    suggest_threads: ThreadPoolExecutor
    retrieval_threads: ThreadPoolExecutor
    stream_slots: StreamSlots
    selector_jobs: SelectorJobs  # reply-selector training, one job per shop


def services_of(app: FastAPI) -> Services:
    found = getattr(app.state, "services", None)
    if not isinstance(found, Services):  # only before the lifespan has built them
        raise ServiceError(503, "starting", "the service is starting; retry shortly", retry_after=2)
    return found


def _services(request: Request) -> Services:
    return services_of(request.app)


ServicesDep = Annotated[Services, Depends(_services)]
