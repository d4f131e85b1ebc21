"""Drafting with a small language model: the Generator Protocol, prompt and cleanup (drafting), the
backends behind it (backends: llama.cpp in process, transformers; openai_http: any
OpenAI-compatible server), saved KV states per conversation (prefix_cache), and the model
assembled offline from its PyPI carriers (assets, requant)."""
