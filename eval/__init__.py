"""Offline evaluation: replay historical chats through the copilot pipeline the service runs.

readers     conversations.jsonl / JDDC TSV / CSV -> ReplayItems (agent turns after a customer)
split       seeded 80/20 split by conversation id; the leakage guard
replay      the pipeline (copilot.build, as the service wires it) on a private Redis; resume
ray_runner  the same replay on a Ray cluster (--ray ADDRESS, or "local")
baselines   BM25 over the same bank; the most frequent replies per intent
metrics     char ROUGE-L, JDDC char BLEU-4, semantic similarity, accept@k curves, bootstrap
runner      `copilot eval run`: all of the above -> turns.jsonl, metrics.json, reports
report      report.md and a self-contained report.html (inline CSS and SVG, no network)
compare     `copilot eval compare`: paired deltas with bootstrap 95% intervals
calibrate   `copilot eval calibrate`: the threshold separating used from dismissed
live        `copilot eval live`: acceptance from the service's feedback stream
"""
