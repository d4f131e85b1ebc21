"""LLM drafting speed: time to first token and decode rate, our backends against raw llama.cpp.

    python bench/llm_speed.py [--runs 5] [--max-tokens 96] [--threads N] [--transformers]

Goals (issue 3), with the 0.5B Q4_K_M GGUF:
  - time to first token <= 1.0 s for a ~300-token prompt (cold: no cached prefix);
  - decode tokens/s of LlamaCppGenerator (through stream_with_timeout, as the pipeline calls it)
    >= 0.85x the raw llama_cpp.Llama.generate loop on the same prompt tokens, same model, same run.

Runs alternate ours / raw so that load from other processes hits both alike. The transformers
backend is measured when its dequantised cache exists (or with --transformers, which builds it:
about 80 s once).
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
from typing import Any

import common  # noqa: F401 - sets HF_HUB_OFFLINE before transformers is imported

from copilot.drafting import ChatMessage, build_draft_messages, stream_with_timeout
from copilot.llm_backends import LlamaCppGenerator, TransformersGenerator, available_cores
from copilot.model_setup import gguf_path, setup_models
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


@dataclass
class Run:
    ttft_s: float
    tokens: int
    decode_s: float  # from the first piece to the last

    @property
    def tokens_per_s(self) -> float:
        return (self.tokens - 1) / self.decode_s if self.tokens > 1 and self.decode_s > 0 else 0.0


OTHER_MATERIAL = (
    "亲，儿童吸管杯的吸管和密封圈都可以单独购买，在店铺首页搜索配件即可。",
    "亲，杯子签收后7天内未使用可以无理由退换，退回运费由买家承担。",
)


def bench_messages(other: bool = False) -> list[ChatMessage]:
    """The ~300-token prompt; other=True gives another customer's (same rules, new material)."""
    turns = (*TURNS[:-1], Turn("customer", "吸管能单买吗？用过还能退吗")) if other else TURNS
    conversation = Conversation(shop_id="demo-pdd", turns=turns)
    return build_draft_messages(
        conversation,
        OTHER_MATERIAL if other else MATERIAL,
        shop_name="暖杯家居专营店",
        max_reply_chars=300,
    )


def prompt_tokens(llm: Any, messages: list[ChatMessage]) -> list[int]:
    """The tokens create_chat_completion feeds the model: the GGUF's own chat template."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(
        template=llm.metadata["tokenizer.chat_template"],
        eos_token=llm.detokenize([llm.token_eos()], special=True).decode("utf-8"),
        bos_token="",
    )
    chat: Any = [{"role": m.role, "content": m.content} for m in messages]
    formatted = formatter(messages=chat)
    return list(llm.tokenize(formatted.prompt.encode("utf-8"), add_bos=False, special=True))


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


def ours(
    generator: LlamaCppGenerator, messages: list[ChatMessage], max_tokens: int, *, cold: bool
) -> Run:
    """One draft through stream_with_timeout, as the pipeline runs it.

    cold: nothing cached, the whole prompt is evaluated. Warm: the previous draft was another
    customer's, so only the shared rules prefix is cached (the steady state of a server).
    """
    llm = generator.llama
    if cold:
        llm.reset()
    else:
        generate_once(generator, bench_messages(other=True))
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
    produced = len(llm.tokenize("".join(text).encode("utf-8"), add_bos=False))
    return Run(ttft, produced, decode)


def generate_once(generator: LlamaCppGenerator, messages: list[ChatMessage]) -> None:
    generator.llama.reset()
    for _ in generator.stream(messages, max_tokens=1, temperature=0):
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
        result.append(Run(ttft, count, decode))

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    return result[0]


def transformers_runs(
    models_dir: Path, messages: list[ChatMessage], runs: int, max_tokens: int, build: bool
) -> list[Run] | None:
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
        tokens = len(generator._tokenizer("".join(text))["input_ids"])
        results.append(Run(ttft, tokens, decode))
    return results


def summary(name: str, runs: list[Run]) -> tuple[float, float, float, float]:
    """Prints and returns (TTFT p50, tok/s p50, best TTFT, best tok/s)."""
    ttft = statistics.median(r.ttft_s for r in runs)
    rate = statistics.median(r.tokens_per_s for r in runs)
    best_ttft = min(r.ttft_s for r in runs)
    best_rate = max(r.tokens_per_s for r in runs)
    tokens = statistics.median(r.tokens for r in runs)
    print(
        f"  {name:<30} TTFT p50 {ttft * 1000:6.0f} ms  best {best_ttft * 1000:6.0f} ms   "
        f"decode p50 {rate:5.1f} tok/s  best {best_rate:5.1f}  ({tokens:.0f} tokens)"
    )
    return ttft, rate, best_ttft, best_rate


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--transformers", action="store_true", help="build its cache if missing")
    args = parser.parse_args()

    models_dir = Settings().models_dir
    setup_models(models_dir, include_llm=True, progress=False)
    messages = bench_messages()
    generator = LlamaCppGenerator(gguf_path(models_dir), threads=args.threads)
    started = time.perf_counter()
    generator.warm_up()
    load_s = time.perf_counter() - started
    llm = generator.llama
    tokens = prompt_tokens(llm, messages)
    print(
        f"model {generator.gguf_path.name}: loaded in {load_s:.2f} s, {generator.threads} threads, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(default)')}"
    )
    print(f"prompt: {len(tokens)} tokens (chat template applied), max {args.max_tokens} new tokens")

    ours(generator, messages, 8, cold=True)  # warm caches and threads before timing anything
    cold: list[Run] = []
    warm: list[Run] = []
    baseline: list[Run] = []
    for _ in range(args.runs):
        cold.append(ours(generator, messages, args.max_tokens, cold=True))
        baseline.append(raw(llm, tokens, args.max_tokens))
        warm.append(ours(generator, messages, args.max_tokens, cold=False))
    print(f"\nllama.cpp, {args.runs} runs each, interleaved:")
    _report_llama(cold, warm, baseline, len(tokens))
    _report_transformers(models_dir, messages, args)


def _report_llama(cold: list[Run], warm: list[Run], baseline: list[Run], prompt: int) -> None:
    ttft, rate, best_ttft, best_rate = summary("ours, cold (nothing cached)", cold)
    raw_ttft, raw_rate, raw_best_ttft, raw_best_rate = summary(
        "raw llama_cpp.Llama, cold", baseline
    )
    warm_ttft = summary("ours, warm (rules prefix cached)", warm)[0]
    print(f"\n  TTFT cold p50 {ttft:.3f} s, warm p50 {warm_ttft:.3f} s (goal <= 1.0 s): ", end="")
    print(f"cold {verdict(ttft <= 1.0)}, warm {verdict(warm_ttft <= 1.0)}")
    print(
        f"  TTFT ours / raw (cold, p50): {ttft / raw_ttft:.2f}x; best {best_ttft / raw_best_ttft:.2f}x"
    )
    paired = statistics.median(
        m.tokens_per_s / r.tokens_per_s for m, r in zip(cold, baseline, strict=True)
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
