"""LLM drafting speed: time to first token and decode rate, our backends against raw llama.cpp.

    python bench/llm_speed.py [--runs 3] [--max-tokens 96] [--threads N] [--no-flash-attn]
                              [--transformers]

Goals, with the 0.5B Qwen (by default the IQ4_NL copy `copilot setup` makes of the
pinned Q4_K_M, as the service drafts with; --q4-k-m for the original):
  - time to first token <= 1.0 s for a ~300-token prompt, measured three ways:
      cold  nothing evaluated before: the whole prompt is evaluated;
      warm  the previous draft was another conversation's: only the shared rules are reused;
      live  this conversation's previous draft; then the agent's reply is pushed and
            Suggester.observe prefills the next prompt's rules and earlier turns (the service
            does that on POST /v1/conversations/{id}/turns, while the customer types); then
            another conversation's draft; then this one's next turn: its prefix comes back
            from LlamaCppGenerator's state cache, only material and message are evaluated;
  - decode tokens/s of LlamaCppGenerator (through stream_with_timeout, as the pipeline calls it)
    >= 0.85x the raw llama_cpp.Llama.generate loop on the same prompt tokens, same model, same run.

Runs alternate cold / raw / warm / live so that load from other processes hits all alike. The
transformers backend is measured when its dequantised cache exists (or with --transformers,
which builds it: about 80 s once).
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import common  # noqa: F401 - sets HF_HUB_OFFLINE before transformers is imported

from copilot.llm.assets import CARRIERS, QWEN_05B
from copilot.llm.backends import LlamaCppGenerator, TransformersGenerator, available_cores
from copilot.llm.drafting import (
    ChatMessage,
    build_draft_messages,
    build_prefill_messages,
    stream_with_timeout,
)
from copilot.llm.openai_http import as_dicts
from copilot.model_setup import drafting_gguf, gguf_path, setup_models
from copilot.types import Conversation, Turn
from service.settings import Settings

MATERIAL = (
    "亲，这款316不锈钢保温杯可以直接装开水的哦，装之前用开水预热1分钟保温效果更好。",
    "亲，500ml款高约22cm、直径7cm，放包里和车载杯架都方便。",
    "本店12月活动：保温杯满199减20；16:00前付款当天发货。",
)
TURNS = (
    Turn("customer", "在吗 亲 这个保温杯保温咋样啊"),
    Turn("agent", "亲，在的～装满沸水盖紧，6小时后还在70℃以上。"),
    Turn("customer", "我上班用 500还是750好点"),
    Turn("agent", "亲，上班日常用推荐500ml，放包里方便。"),
    Turn("customer", "那这个杯子能直接装开水吗？买两个有优惠吗"),
)
# What the same conversation's previous draft saw: the customer's second message.
PREVIOUS_MATERIAL = (
    "亲，500ml款高约22cm、直径7cm，放包里和车载杯架都方便。",
    "亲，750ml款适合户外和运动，容量大但稍重一些。",
    "亲，上班通勤推荐500ml，轻便好拿，办公桌也不占地方。",
)
SHOP_NAME = "暖杯家居专营店"
# Another customer of the same shop: shares the rules, not the conversation.
OTHER_TURNS = (
    Turn("customer", "你好 儿童吸管杯还有货吗"),
    Turn("agent", "亲，有货的，粉色和蓝色都有哦。"),
    Turn("customer", "吸管能单买吗？用过还能退吗"),
)
OTHER_MATERIAL = (
    "亲，儿童吸管杯的吸管和密封圈都可以单独购买，在店铺首页搜索配件即可。",
    "亲，杯子签收后7天内未使用可以无理由退换，退回运费由买家承担。",
)


@dataclass
class Run:
    ttft_s: float
    tokens: int
    decode_s: float  # from the first piece to the last
    evaluated: int = 0  # prompt tokens evaluated (not reused from a cache)

    @property
    def tokens_per_s(self) -> float:
        return (self.tokens - 1) / self.decode_s if self.tokens > 1 and self.decode_s > 0 else 0.0


def draft_messages(turns: tuple[Turn, ...], material: tuple[str, ...]) -> list[ChatMessage]:
    conversation = Conversation(shop_id="demo-pdd", turns=turns)
    return build_draft_messages(conversation, material, shop_name=SHOP_NAME, max_reply_chars=300)


def bench_messages() -> list[ChatMessage]:
    """The ~340-token prompt every timed draft uses."""
    return draft_messages(TURNS, MATERIAL)


def previous_messages() -> list[ChatMessage]:
    return draft_messages(TURNS[:3], PREVIOUS_MATERIAL)


def prefill_messages() -> list[ChatMessage]:
    """What Suggester.observe prefills when the agent's reply before TURNS[-1] is pushed."""
    conversation = Conversation(shop_id="demo-pdd", turns=TURNS[:-1])
    return build_prefill_messages(conversation, shop_name=SHOP_NAME, max_reply_chars=300)


def other_messages() -> list[ChatMessage]:
    return draft_messages(OTHER_TURNS, OTHER_MATERIAL)


def timed(pieces: Iterable[Any], started: float) -> tuple[float, float, int]:
    """(first piece at, last piece at, piece count), seconds after started."""
    first = last = started
    count = 0
    for _ in pieces:
        last = time.perf_counter()
        if count == 0:
            first = last
        count += 1
    return first - started, last - first, count


def kept(pieces: Iterable[str], sink: list[str]) -> Iterator[str]:
    for piece in pieces:
        sink.append(piece)
        yield piece


Scenario = Literal["cold", "warm", "live"]


def ours(
    generator: LlamaCppGenerator, messages: list[ChatMessage], max_tokens: int, scenario: Scenario
) -> Run:
    """One draft through stream_with_timeout, as the pipeline runs it, after scenario's drafts."""
    generator.prefix_cache.clear()
    generator.llama.reset()
    if scenario == "live":
        generate_once(generator, previous_messages())
        generator.prefill(prefill_messages())  # the agent's reply pushed: Suggester.observe
    if scenario in ("warm", "live"):
        generate_once(generator, other_messages())
    text: list[str] = []
    started = time.perf_counter()
    pieces = stream_with_timeout(
        generator,
        messages,
        first_token_timeout=60,
        total_timeout=600,
        max_tokens=max_tokens,
        temperature=0,
    )
    ttft, decode, _ = timed(kept(pieces, text), started)
    produced = len(generator.llama.tokenize("".join(text).encode("utf-8"), add_bos=False))
    reuse = generator.last_prefix_reuse
    return Run(ttft, produced, decode, reuse.prompt_tokens - reuse.reused_tokens)


def generate_once(generator: LlamaCppGenerator, messages: list[ChatMessage]) -> None:
    """A short draft, whose state the generator keeps like any other."""
    for _ in generator.stream(messages, max_tokens=8, temperature=0):
        pass


def raw(llm: Any, tokens: list[int], max_tokens: int) -> Run:
    """The bare Llama.generate loop, in a fresh thread like ours (with OpenMP's default spin
    policy a loop on the main thread runs several times slower on a busy machine)."""
    result: list[Run] = []

    def loop() -> Iterable[int]:
        for count, token in enumerate(llm.generate(tokens, temp=0.0), 1):
            if token == llm.token_eos():
                return
            yield token
            if count >= max_tokens:
                return

    def run() -> None:
        llm.reset()
        started = time.perf_counter()
        ttft, decode, count = timed(loop(), started)
        result.append(Run(ttft, count, decode, evaluated=len(tokens)))  # reset: all of it

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    return result[0]


def transformers_runs(
    models_dir: Path, messages: list[ChatMessage], runs: int, max_tokens: int, build: bool
) -> list[Run] | None:
    """TransformersGenerator keeps no cache: every run evaluates the whole prompt."""
    generator = TransformersGenerator(gguf_path(models_dir), models_dir)
    if not (generator.model_dir / "config.json").is_file() and not build:
        return None
    generator.warm_up()
    results = []
    for _ in range(runs):
        text: list[str] = []
        started = time.perf_counter()
        pieces = generator.stream(messages, max_tokens=max_tokens, temperature=0)
        ttft, decode, _ = timed(kept(pieces, text), started)
        tokenizer = generator._tokenizer
        tokens = len(tokenizer("".join(text))["input_ids"])
        prompt = tokenizer.apply_chat_template(
            as_dicts(messages), tokenize=False, add_generation_prompt=True
        )
        evaluated = len(tokenizer(prompt)["input_ids"])
        results.append(Run(ttft, tokens, decode, evaluated=evaluated))
    return results


def summary(name: str, runs: list[Run]) -> tuple[float, float, float, float]:
    """Prints and returns (TTFT p50, tok/s p50, best TTFT, best tok/s)."""
    ttft = statistics.median(r.ttft_s for r in runs)
    rate = statistics.median(r.tokens_per_s for r in runs)
    best_ttft = min(r.ttft_s for r in runs)
    best_rate = max(r.tokens_per_s for r in runs)
    tokens = statistics.median(r.tokens for r in runs)
    evaluated = statistics.median(r.evaluated for r in runs)
    print(
        f"  {name:<22} TTFT p50 {ttft * 1000:6.0f} ms  best {best_ttft * 1000:6.0f} ms  "
        f"prompt tokens evaluated {evaluated:3.0f}  "
        f"decode p50 {rate:5.1f} tok/s  best {best_rate:5.1f}  ({tokens:.0f} tokens)"
    )
    return ttft, rate, best_ttft, best_rate


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-flash-attn", action="store_true", help="llama.cpp's plain attention")
    parser.add_argument("--transformers", action="store_true", help="build its cache if missing")
    parser.add_argument("--q4-k-m", action="store_true", help="the pinned Q4_K_M, not IQ4_NL")
    parser.add_argument(
        "--model", choices=sorted(CARRIERS), default=QWEN_05B.name,
        help="the 1.5B needs `copilot setup --llm-1.5b` (its parts installed)",
    )  # fmt: skip
    args = parser.parse_args()

    models_dir = Settings().models_dir
    larger = args.model != QWEN_05B.name
    setup_models(models_dir, include_llm=True, progress=False, larger_llm=larger)
    messages = bench_messages()
    gguf = drafting_gguf(models_dir, "llama_cpp", requantised=not args.q4_k_m, model=args.model)
    generator = LlamaCppGenerator(gguf, threads=args.threads, flash_attn=not args.no_flash_attn)
    started = time.perf_counter()
    generator.warm_up()
    load_s = time.perf_counter() - started
    tokens = generator.prompt_tokens(messages)
    print(
        f"model {generator.gguf_path.name}: loaded in {load_s:.2f} s, {generator.threads} threads, "
        f"flash_attn={generator.flash_attn}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(default)')}"
    )
    print(f"prompt: {len(tokens)} tokens (chat template applied), max {args.max_tokens} new tokens")

    ours(generator, messages, 8, "cold")  # warm caches and threads before timing anything
    runs: dict[str, list[Run]] = {"cold": [], "raw": [], "warm": [], "live": []}
    for _ in range(args.runs):
        runs["cold"].append(ours(generator, messages, args.max_tokens, "cold"))
        runs["raw"].append(raw(generator.llama, tokens, args.max_tokens))
        runs["warm"].append(ours(generator, messages, args.max_tokens, "warm"))
        runs["live"].append(ours(generator, messages, args.max_tokens, "live"))
    print(f"\nllama.cpp, {args.runs} runs each, interleaved:")
    _report_llama(runs, len(tokens))
    _report_transformers(models_dir, messages, args)


LABELS = {
    "cold": "cold: nothing cached, whole prompt evaluated",
    "warm": "warm: previous draft was another conversation's, only the shared rules reused",
    "live": "live: this conversation's previous draft, then the agent's reply pushed (its "
    "rules and turns prefilled, as Suggester.observe does), then another conversation's draft; "
    "restored from the state cache, only material and message evaluated",
}


def _report_llama(runs: dict[str, list[Run]], prompt: int) -> None:
    ttft, rate, best_ttft, best_rate = summary("ours, cold", runs["cold"])
    raw_ttft, raw_rate, raw_best_ttft, raw_best_rate = summary(
        "raw Llama.generate, cold", runs["raw"]
    )
    ttfts = {"cold": ttft}
    ttfts["warm"] = summary("ours, warm", runs["warm"])[0]
    ttfts["live"] = summary("ours, live", runs["live"])[0]
    print()
    for scenario, label in LABELS.items():
        ok = ttfts[scenario] <= 1.0
        print(
            f"  TTFT {scenario} p50 {ttfts[scenario]:.3f} s (goal <= 1.0 s): {verdict(ok)}  [{label}]"
        )
    print(
        f"  TTFT ours / raw (cold, p50): {ttft / raw_ttft:.2f}x; best {best_ttft / raw_best_ttft:.2f}x"
    )
    paired = statistics.median(
        m.tokens_per_s / r.tokens_per_s for m, r in zip(runs["cold"], runs["raw"], strict=True)
    )
    print(
        f"  decode ours / raw: median of adjacent pairs {paired:.2f}x, p50s {rate / raw_rate:.2f}x, "
        f"best {best_rate / raw_best_rate:.2f}x (goal >= 0.85x): {verdict(paired >= 0.85)}"
    )
    print(
        f"  prompt evaluation: {prompt / raw_best_ttft:.0f} tok/s at best "
        f"(a 300-token prompt needs >= 300 tok/s for TTFT <= 1 s)"
    )


def _report_transformers(
    models_dir: Path, messages: list[ChatMessage], args: argparse.Namespace
) -> None:
    print("\ntransformers backend:")
    runs = max(1, args.runs // 2)
    results = transformers_runs(models_dir, messages, runs, args.max_tokens, args.transformers)
    if results is None:
        print("  skipped: no dequantised cache (pass --transformers to build it, ~80 s once)")
        return
    summary("TransformersGenerator", results)


if __name__ == "__main__":
    print(f"cores available: {available_cores()}")
    main()
