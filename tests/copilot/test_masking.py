"""PII masking of what is stored: phones, ID numbers, addresses, labelled names; nothing else."""

from __future__ import annotations

import pytest

from copilot.text.masking import mask_pii


@pytest.mark.parametrize(
    ("text", "gone", "kept"),
    [
        ("我电话13812345678，尽快发货", "13812345678", "138****5678"),
        ("手机：+86 15912345678", "15912345678", "159****5678"),
        ("座机 010-12345678", "12345678", "010-****5678"),
        ("身份证110101199003074514", "110101199003074514", "1101**********4514"),
        ("身份证号 11010119900307109X", "19900307109", "1101**********109X"),
        ("收件人：张三，麻烦改一下", "张三", "收件人：张*"),
        ("收货人李小明", "李小明", "收货人李**"),
        ("姓名 王五", "王五", "王*"),
        ("地址浙江省杭州市西湖区文三路100号3栋201室", "文三路100号", "浙江省[地址]"),
        ("送到杭州市西湖区5号楼2单元", "5号楼2单元", "杭州市[地址]"),
        ("改成建国路88号", "建国路88号", "[地址]"),
    ],
)
def test_personal_data_is_masked(text: str, gone: str, kept: str) -> None:
    masked = mask_pii(text)
    assert gone not in masked
    assert kept in masked


@pytest.mark.parametrize(
    "text",
    [
        "这个杯子能装开水吗",
        "满199减30，两件包邮吗",
        "订单号4812345678901234怎么还没发货",
        "淘宝订单号123456789012345678",  # 18 digits, not a valid ID check digit
        "快递单号YT1234567890123到哪了",
        "这个型号和那个型号区别大吗",
        "160斤穿几号",
        "上海市能到吗，走什么路线",
        "顺丰能到村里吗",
        "¥89.00 的那款",
        "",
    ],
)
def test_ordinary_shop_talk_is_left_alone(text: str) -> None:
    assert mask_pii(text) == text


def test_skipping_patterns_that_cannot_match_masks_exactly_as_running_them_all() -> None:
    """mask_pii skips a pattern when the text lacks what it needs (seven digits, a name label,
    two of admin unit / street / house number): on texts dense in exactly those characters the
    result must equal running every pattern."""
    import random

    from copilot.text import masking as m

    def every_pattern(text: str) -> str:
        text = m._ID18.sub(m._mask_id18, text)
        text = m._ID15.sub(lambda g: f"{g.group(1)}********{g.group(2)}", text)
        text = m._PHONE.sub(lambda g: f"{g.group(1)}****{g.group(3)}", text)
        text = m._LANDLINE.sub(lambda g: f"{g.group(1)}-****{g.group(2)[-4:]}", text)
        text = m._NAME.sub(lambda g: g.group(1) + g.group(2)[0] + "*" * (len(g.group(2)) - 1), text)
        return m._ADDRESS.sub(m._mask_address, text)

    rng = random.Random(4)
    alphabet = (
        "0123456789X省市区县镇乡路街巷弄村道同号楼院单元栋幢室座收件货人姓名联系字张李 -，在吗一二"
    )
    texts = ["".join(rng.choices(alphabet, k=rng.randint(1, 40))) for _ in range(20000)]
    masked_somewhere = 0
    for text in texts:
        expected = every_pattern(text)
        assert mask_pii(text) == expected, text
        masked_somewhere += expected != text
    assert masked_somewhere > 1000  # the texts do exercise the patterns


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ("电话138-1234-5678", "1234", "138****5678"),
        ("打+8613812345678找我", "1234", "138****5678"),
        ("手机１３８１２３４５６７８", "1234", "138****5678"),
        ("卡号6222 0212 3456 7890 128", "3456", "6222 **** **** 0128"),  # Luhn-valid
        ("身份证110101 19900307 1234", "19900307", "1101**********"),  # bad check digit
        ("邮箱zhangsan.work@example.com", "zhangsan", "z***@example.com"),
        ("我叫张三，地址稍后发", "张三", "我叫张*"),
    ],
)
def test_personal_data_as_people_write_it_is_masked(text: str, hidden: str, kept: str) -> None:
    masked = mask_pii(text)
    assert hidden not in masked and kept in masked, masked


def test_an_order_number_of_card_length_stays() -> None:
    order = "订单号2026120612345678901"  # 19 digits, fails the Luhn check
    assert mask_pii(order) == order
