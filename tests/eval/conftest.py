"""Eval fixtures: a pipeline config on the session's models, and a small shop with chat logs
but no knowledge base (written by us)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from copilot.build import PipelineConfig

QA = [
    (("什么时候发货", "几天能发货呀", "今天能发出吗"), "亲，付款后48小时内发货哦"),
    (("可以开发票吗", "能开发票不", "发票怎么开"), "亲，可以开电子发票的，下单时填写抬头就行"),
    (("快递用的哪家", "发什么快递", "默认什么快递"), "亲，默认发中通快递，偏远地区发邮政"),
    (
        ("不合适能退吗", "可以七天无理由吗", "不喜欢能退货吗"),
        "亲，支持七天无理由退货，商品不影响二次销售就可以",
    ),
]
CLOSING = ("好的谢谢", "不客气呢，有问题随时找我哦")


def _chat(cid: str, question: str, answer: str) -> str:
    turns = [
        {"role": "customer", "text": question},
        {"role": "agent", "text": answer},
        {"role": "customer", "text": CLOSING[0]},
        {"role": "agent", "text": CLOSING[1]},
    ]
    return json.dumps({"conversation_id": cid, "turns": turns}, ensure_ascii=False)


@pytest.fixture(scope="session")
def nokb_chats(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(history, conversations): the bank's chats, and other chats asking the same things."""
    folder = tmp_path_factory.mktemp("nokb")
    history, replayed = [], []
    for q, (questions, answer) in enumerate(QA):
        for n, question in enumerate(questions[:2]):
            history.append(_chat(f"h{q}{n}", question, answer))
        replayed.append(_chat(f"r{q}", questions[2], answer))
    (folder / "history.jsonl").write_text("\n".join(history) + "\n", encoding="utf-8")
    (folder / "conversations.jsonl").write_text("\n".join(replayed) + "\n", encoding="utf-8")
    return folder / "history.jsonl", folder / "conversations.jsonl"


@pytest.fixture(scope="session")
def eval_config(models_dir: Path) -> PipelineConfig:
    from copilot.model_setup import onnx_embedder_dir

    return PipelineConfig(embedder_dir=onnx_embedder_dir(models_dir), llm_backend="none")
