"""The reply-suggestion pipeline, one sub-package per stage, in the order a message meets them:

- intents/ (what the customer wants), sentiment/ (how they feel);
- grounding/ (answers from the shop's records), history/ (what its agents said before, and the
  learned reply selector);
- guardrails/ (what never reaches a customer), llm/ (drafting with a small model);
- feedback/ (what agents did with suggestions), text/ (helpers every stage shares).

pipeline.py runs them for one conversation (Suggester), routing.py decides when a human takes
over, policies.py holds each shop's settings, templates.py the intents' reply templates, and
build.py composes the pipeline for the service and the eval alike. types.py and errors.py hold
the domain types and the exception tree; clock.py the one injectable clock.
"""
