"""A follow-up question ("我联想小新的 充电口是圆的那种 也行吧" after "这个65w的能给笔记本充电吗") that finds no FAQ alone gets
the FAQ it and the question before find together, ranked first by both retrievers; a message that
finds its own answer, a reading only one retriever ranks first, and an FAQ about another product
get nothing. Records built in code; the search is a stand-in that says what it was asked."""

from __future__ import annotations

from collections.abc import Sequence

from copilot.grounding.follow_ups import follow_up_faq
from copilot.types import Conversation, Turn
from kb.types import FAQ, Hit, RetrieverScore

SHOP = "chargers"
LAPTOP = FAQ(SHOP, "f-laptop", "65W能给笔记本充电吗", "可以给Type-C口充电的笔记本充；圆口的用不了")
CABLE = FAQ(SHOP, "f-cable", "充电头带不带线", "充电头是单头不带线的，线需要单独拍")
SIZE = FAQ(SHOP, "f-size", "脐橙中果和大果差多少", "中果5斤12-14个，大果9-10个")


def hit(entry: FAQ, dense: int, keyword: int | None) -> Hit:
    ranks = {"dense": RetrieverScore(0.9, dense)}
    if keyword is not None:
        ranks["keyword"] = RetrieverScore(1.0, keyword)
    return Hit(entry, 0.04, entry.question, "question", ranks)


def chat(*customer: str) -> Conversation:
    turns: list[Turn] = []
    for text in customer:
        turns += [Turn("customer", text), Turn("agent", "亲，在的～")]
    return Conversation(SHOP, tuple(turns[:-1]))


class Search:
    def __init__(self, found: Sequence[Hit]) -> None:
        self.found = list(found)
        self.asked: list[str] = []

    def __call__(self, text: str) -> list[Hit]:
        self.asked.append(text)
        return self.found


def never(faq: FAQ) -> bool:
    return False


FOLLOW_UP = chat("这个65w的能给笔记本充电吗", "我联想小新的 充电口是圆的那种 也行吧")
ALONE = [hit(CABLE, 1, 5), hit(SIZE, 16, 2)]  # no FAQ both rank near the top


def test_the_faq_found_with_the_question_before_is_offered() -> None:
    search = Search([hit(LAPTOP, 1, 1), hit(CABLE, 3, 2)])
    found = follow_up_faq(FOLLOW_UP, ALONE, search, {}, never)
    assert search.asked == ["这个65w的能给笔记本充电吗，我联想小新的 充电口是圆的那种 也行吧"]
    assert found is not None and found.text == LAPTOP.answer
    assert found.source.kb_entry_ids == ("f-laptop",) and found.role == "answer"


def test_a_message_that_finds_its_own_answer_keeps_it() -> None:
    search = Search([hit(LAPTOP, 1, 1)])
    own = [hit(CABLE, 2, 2)]
    assert follow_up_faq(FOLLOW_UP, own, search, {}, never) is None
    assert search.asked == []  # no second search when the message finds its own answer


def test_what_one_retriever_alone_ranks_first_is_not_offered() -> None:
    for first in (hit(LAPTOP, 1, 2), hit(LAPTOP, 1, None)):
        assert follow_up_faq(FOLLOW_UP, ALONE, Search([first]), {}, never) is None


def test_a_first_message_has_no_question_before() -> None:
    search = Search([hit(LAPTOP, 1, 1)])
    assert (
        follow_up_faq(chat("我联想小新的 充电口是圆的那种 也行吧"), ALONE, search, {}, never)
        is None
    )


def test_an_faq_among_the_first_hits_already_or_about_another_product_is_not_added() -> None:
    search = Search([hit(CABLE, 1, 1)])
    assert follow_up_faq(FOLLOW_UP, ALONE, search, {}, never) is None
    other = chat("果冻橙大果一个多大啊", "9斤的大概有几个 要分给同事")
    search = Search([hit(SIZE, 1, 1)])
    assert follow_up_faq(other, [], search, {}, lambda faq: faq.id == "f-size") is None
    assert follow_up_faq(other, [], search, {}, never) is not None
