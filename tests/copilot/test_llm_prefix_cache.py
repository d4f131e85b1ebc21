"""LlamaCppGenerator's KV state cache, with the real GGUF: a conversation's next draft evaluates
only what is new, even when a draft for another conversation came in between."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.llm.backends import LlamaCppGenerator
from copilot.llm.drafting import (
    ChatMessage,
    build_draft_messages,
    build_prefill_messages,
    grounded_share,
)
from copilot.llm.prefix_cache import common_prefix
from copilot.model_setup import drafting_gguf
from copilot.types import Conversation, Turn

pytestmark = pytest.mark.slow

FIRST = (
    Turn("customer", "在吗 亲 这个保温杯保温咋样啊"),
    Turn("agent", "亲，在的～装满沸水盖紧，6小时后还在70℃以上。"),
    Turn("customer", "我上班用 500还是750好点"),
)
NEXT = (
    *FIRST,
    Turn("agent", "亲，上班日常用推荐500ml，放包里方便。"),
    Turn("customer", "那这个杯子能直接装开水吗？买两个有优惠吗"),
)
OTHER = (
    Turn("customer", "你好 儿童吸管杯还有货吗"),
    Turn("agent", "亲，有货的，粉色和蓝色都有哦。"),
    Turn("customer", "吸管能单买吗？用过还能退吗"),
)
MATERIAL = (
    "亲，这款316不锈钢保温杯可以直接装开水的哦，装之前用开水预热1分钟保温效果更好。",
    "本店12月活动：保温杯满199减20；16:00前付款当天发货。",
)
OTHER_MATERIAL = ("亲，儿童吸管杯的吸管和密封圈都可以单独购买，在店铺首页搜索配件即可。",)


def _messages(turns: tuple[Turn, ...], material: tuple[str, ...]) -> list[ChatMessage]:
    conversation = Conversation(shop_id="demo-pdd", turns=turns)
    return build_draft_messages(
        conversation, material, shop_name="暖杯家居专营店", max_reply_chars=120
    )


@pytest.fixture
def llama(models_dir: Path) -> Iterator[LlamaCppGenerator]:
    generator = LlamaCppGenerator(drafting_gguf(models_dir, "llama_cpp"), n_ctx=1024)
    generator.warm_up()
    yield generator
    generator.llama.close()


def _evaluated(generator: LlamaCppGenerator, messages: list[ChatMessage], tokens: int) -> int:
    """Draft, and return how many prompt tokens llama.cpp itself counted as evaluated."""
    import llama_cpp

    ctx = generator.llama._ctx.ctx
    llama_cpp.llama_perf_context_reset(ctx)
    "".join(generator.stream(messages, max_tokens=tokens, temperature=0))
    return int(llama_cpp.llama_perf_context(ctx).n_p_eval)  # batches; answer tokens: n_eval


def test_next_draft_evaluates_only_what_is_new_after_another_conversation(
    llama: LlamaCppGenerator,
) -> None:
    first = _messages(FIRST, MATERIAL)
    assert _evaluated(llama, first, 2) >= len(llama.prompt_tokens(first)) - 1  # cold
    _evaluated(llama, _messages(OTHER, OTHER_MATERIAL), 2)  # another customer in between

    following = _messages(NEXT, MATERIAL)
    prompt = llama.prompt_tokens(following)
    evaluated = _evaluated(llama, following, 2)
    reuse = llama.last_prefix_reuse
    assert reuse.restored and reuse.prompt_tokens == len(prompt)
    # the rules and the two earlier turns the first draft saw come back from the cache
    shared = common_prefix(llama.prompt_tokens(first), prompt)
    assert reuse.reused_tokens == shared and shared > 150
    assert evaluated <= len(prompt) - shared + 1 and evaluated < 0.6 * len(prompt)


def test_evaluated_tokens_match_the_formatted_prompt(llama: LlamaCppGenerator) -> None:
    messages = _messages(NEXT, MATERIAL)
    "".join(llama.stream(messages, max_tokens=2, temperature=0))
    prompt = llama.prompt_tokens(messages)
    assert list(llama.llama.input_ids[: len(prompt)]) == prompt


def test_a_restored_draft_is_still_grounded_chinese(llama: LlamaCppGenerator) -> None:
    "".join(llama.stream(_messages(FIRST, MATERIAL), max_tokens=2, temperature=0))
    "".join(llama.stream(_messages(OTHER, OTHER_MATERIAL), max_tokens=2, temperature=0))
    text = "".join(llama.stream(_messages(NEXT, MATERIAL), max_tokens=60, temperature=0))
    assert llama.last_prefix_reuse.restored
    assert sum("\u4e00" <= c <= "\u9fff" for c in text) >= 10, text
    assert grounded_share(text, MATERIAL) >= 0.5, text


def test_a_conversation_keeps_one_state_and_the_cache_stays_bounded(
    llama: LlamaCppGenerator,
) -> None:
    for turns, material in ((FIRST, MATERIAL), (OTHER, OTHER_MATERIAL), (NEXT, MATERIAL)):
        "".join(llama.stream(_messages(turns, material), max_tokens=2, temperature=0))
    assert len(llama.prefix_cache) == 2  # NEXT's state replaced FIRST's
    llama.prefix_cache.max_bytes = llama.prefix_cache.size_bytes // 2
    "".join(llama.stream(_messages(FIRST[:1], OTHER_MATERIAL), max_tokens=2, temperature=0))
    assert len(llama.prefix_cache) == 1  # the least recently used went first


def test_a_draft_stopped_early_still_leaves_its_prefix(llama: LlamaCppGenerator) -> None:
    messages = _messages(NEXT, MATERIAL)
    pieces = llama.stream(messages, max_tokens=40, temperature=0)
    next(pieces)
    pieces.close()  # what stream_with_timeout does when the caller stops or a deadline passes
    "".join(llama.stream(messages, max_tokens=2, temperature=0))
    assert llama.last_prefix_reuse.reused_tokens == len(llama.prompt_tokens(messages))


def test_a_prefilled_next_turn_evaluates_only_material_and_message(
    llama: LlamaCppGenerator,
) -> None:
    first = _messages(FIRST, MATERIAL)
    "".join(llama.stream(first, max_tokens=2, temperature=0))
    # The agent's reply is pushed: Suggester.observe prefills the next prompt's start.
    prefix = build_prefill_messages(
        Conversation("demo-pdd", NEXT[:-1]), shop_name="暖杯家居专营店", max_reply_chars=120
    )
    prefilled = llama.prefill(prefix)
    assert 0 < prefilled < len(llama.prompt_tokens(prefix))  # FIRST's rules and turns reused
    _evaluated(llama, _messages(OTHER, OTHER_MATERIAL), 2)  # another customer in between

    following = _messages(NEXT, MATERIAL)
    prompt = llama.prompt_tokens(following)
    evaluated = _evaluated(llama, following, 2)
    reuse = llama.last_prefix_reuse
    # all of the prompt up to the material came back: more than FIRST's draft shared with it
    upto_material = common_prefix(llama.prompt_tokens(prefix), prompt)
    assert reuse.restored and reuse.reused_tokens >= upto_material - 1
    assert reuse.reused_tokens > common_prefix(llama.prompt_tokens(first), prompt) + 30
    assert evaluated <= len(prompt) - reuse.reused_tokens + 1


def test_prefill_never_waits_for_a_draft(llama: LlamaCppGenerator) -> None:
    prefix = build_prefill_messages(
        Conversation("demo-pdd", NEXT[:-1]), shop_name="暖杯家居专营店", max_reply_chars=120
    )
    pieces = llama.stream(_messages(OTHER, OTHER_MATERIAL), max_tokens=20, temperature=0)
    next(pieces)  # a draft is streaming: it holds the model
    assert llama.prefill(prefix) == 0
    pieces.close()
    assert llama.prefill(prefix) > 0
