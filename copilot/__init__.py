"""The reply-suggestion pipeline: intents, routing, grounding, drafting, guardrails, setup."""
