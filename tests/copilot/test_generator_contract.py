"""The Generator contract, held by the shipped ScriptedGenerator and the real llama.cpp backend
alike: what drafting may rely on from any backend (and so what a test on the fake may rely on)."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot.llm.backends import LlamaCppGenerator
from copilot.llm.drafting import ChatMessage, Generator, generate
from copilot.llm.testing import ScriptedGenerator
from copilot.model_setup import gguf_path

MESSAGES = [
    ChatMessage("system", "你是网店客服助手，用“亲”称呼顾客，回答要简短。"),
    ChatMessage("user", "【资料】\n1. 这款保温杯可以直接装开水，装之前预热一分钟保温更好。\n"
                        "【顾客消息】\n「这个杯子能装开水吗」"),
]  # fmt: skip
SCRIPT = ["亲，", "这款", "杯子", "可以", "直接", "装开水", "的哦。", "装之前", "预热", "一分钟。"]


@pytest.fixture(scope="module")
def llama(models_dir: Path) -> LlamaCppGenerator:
    generator = LlamaCppGenerator(gguf_path(models_dir), n_ctx=1024)
    generator.warm_up()
    return generator


@pytest.fixture(
    params=["scripted", pytest.param("llama_cpp", marks=pytest.mark.slow)],
)
def generator(request: pytest.FixtureRequest) -> Generator:
    if request.param == "scripted":
        return ScriptedGenerator(SCRIPT)
    return request.getfixturevalue("llama")  # type: ignore[no-any-return]


def _pieces(generator: Generator, max_tokens: int = 24, stop: tuple[str, ...] = ()) -> list[str]:
    return list(generator.stream(MESSAGES, max_tokens=max_tokens, temperature=0, stop=stop))


def test_it_meets_the_protocol_and_names_itself(generator: Generator) -> None:
    assert isinstance(generator, Generator)
    assert isinstance(generator.name, str) and generator.name


def test_it_streams_text_in_pieces(generator: Generator) -> None:
    pieces = _pieces(generator)
    assert len(pieces) >= 3 and all(isinstance(p, str) for p in pieces)
    assert "".join(pieces).strip()


def test_max_tokens_bounds_the_pieces(generator: Generator) -> None:
    assert 1 <= len(_pieces(generator, max_tokens=4)) <= 4


def test_temperature_zero_gives_the_same_answer_twice(generator: Generator) -> None:
    assert "".join(_pieces(generator)) == "".join(_pieces(generator))


def test_a_stop_string_ends_the_answer_before_it(generator: Generator) -> None:
    full = "".join(_pieces(generator))
    # a character from the second half whose first appearance is not at the start
    stop = next((c for c in full[len(full) // 2 :] if full.index(c) > 0 and c.strip()), None)
    assert stop is not None, f"nothing to stop at in {full!r}"
    assert "".join(_pieces(generator, stop=(stop,))) == full[: full.index(stop)]


def test_a_stream_closed_early_leaves_the_generator_usable(generator: Generator) -> None:
    full = _pieces(generator)
    stream = generator.stream(MESSAGES, max_tokens=24, temperature=0)
    assert next(stream) == full[0]
    stream.close()  # type: ignore[attr-defined]
    assert generate(generator, MESSAGES, max_tokens=24, temperature=0) == "".join(full)
