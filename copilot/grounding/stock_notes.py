"""What a product's stock cell says, whole or of one option.

The importer keeps the sheet's stock cell last in the product's notes ("库存：奶白S售罄，12/20左右
补货；雾蓝XL缺货"). A customer asking about one option ("奶白s怎么拍不了 啥时候有") is told that
option's line, not the whole cell; an option no line says is out is in stock, as the cell is the
trainer's list of what is not.
"""

from __future__ import annotations

import re

from copilot.text.figures import normalize
from kb.types import Product

STOCK_NOTE_LEAD = "库存："
_PLAIN_IN_STOCK = re.compile(r"(?:库存)?(?:充足|现货|有货|在售|正常|现货充足|充足现货)")
OUT_OF_STOCK = re.compile(r"缺货|无货|断货|断码|售罄|没货|卖完|预售")
_SPEAKS_OF_STOCK = re.compile(OUT_OF_STOCK.pattern + r"|现货|到货|到仓|补货")
_SENTENCE = re.compile(r"[。；;\n】\]]")
_PART = re.compile(r"[；;\n]")
_SIZE = re.compile(r"(?<![a-z\d.])(xxxl|xxl|xl|xs|s|m|l|均码|\d{2}码)(?![a-z])")


def stock_phrase(product: Product, *, restock: bool = False) -> str:
    """What the sheet says of stock: its own note when it speaks of parts (奶白现货；黑色缺货，
    12月中旬补货), so a colour that is out is never reported in stock, nor a whole product out
    for one colour; else 现在有货 / 暂时缺货 (with the restock date when `restock`)."""
    note = stock_note(product)
    if product.in_stock and note and not _PLAIN_IN_STOCK.fullmatch(note):
        return note
    if product.in_stock:
        return "现在有货" if restock else "有货"
    clauses = re.split(r"[；;。，,]", product.usage_notes)
    dates = [c.strip() for c in clauses if "补货" in c or "恢复" in c]
    return f"暂时缺货{'，' + dates[0] if dates and restock else ''}"


def stock_note(product: Product) -> str:
    """The stock cell the importer keeps in the notes ("库存：…", always written last); with
    no stock cell, the sentences of the notes that speak of stock ("白色=预售，12月10日起按付款
    顺序发货。黑色现货" in a 备注(库存/注意) column)."""
    _, found, note = product.usage_notes.partition(STOCK_NOTE_LEAD)
    if found:
        return note.strip(" ；;")
    sentences = (s.strip(" 【[") for s in _SENTENCE.split(product.usage_notes))
    return "；".join(s for s in sentences if _SPEAKS_OF_STOCK.search(s))


def out_of_stock_line(product: Product, option: str) -> str:
    """The part of the stock cell saying this option is out ("深空灰缺货，预计12.15补货"), or ""."""
    for part in _PART.split(stock_note(product)):
        out = OUT_OF_STOCK.search(part)
        subject = part[: out.start()] if out is not None else ""
        if out is not None and (option_in(option, subject) or _within(subject, option)):
            return part.strip(" ，,")
    return ""


def _within(subject: str, option: str) -> bool:
    """The line's subject names a set the option is in: "白色青轴" holds "三模版 白色 青轴",
    "雾蓝2.0m" holds "2.0m床 床笠款 雾蓝" (each word of it is, or begins, a word of the option)."""
    words = _option_words(option)
    rest = normalize(subject).replace("色", "").strip(" =:：，,！!")
    found = [w for w in sorted(words, key=len, reverse=True) if len(w) > 1 or w in rest]
    matched = False
    for word in found:
        if word in rest:
            rest, matched = rest.replace(word, " "), True
    return matched and all(any(p in w for w in words) for p in rest.split())


def _option_words(option: str) -> list[str]:
    """An option's words, a colour without its 色: "黑色/白色 XL" -> 黑, 白, xl."""
    words = (w.removesuffix("色") for w in re.split(r"[\s/，,]+", normalize(option)))
    return [w for w in words if w]


def option_in(option: str, text: str) -> bool:
    """Every word of the option is said: 黑色 in "我要黑的", 薰衣草紫 in "紫色缺货", 深空灰 in
    "深空灰缺货"; "白色 1m" is not in "2m白色缺货" (that is the 2m white)."""
    text = normalize(text).replace("色", "")
    words = _option_words(option)
    return bool(words) and all(_said(word, text) for word in words)


def _said(word: str, text: str) -> bool:
    if len(word) >= 2 and word in text:
        return True
    if re.search(r"\d", word) and not word[-1].isdigit():  # 3支装 is no colour: not 1支装缺货
        return False
    # a colour by its last character, said as a colour (紫缺货, 黑的, 白S, 绿还有吗), not
    # inside 明白了
    follows = r"(?=的|款|缺|无|断|售|没|有|还|呢|吗|$|[，,；;\s\d]|(?:xxl|xl|xs|s|m|l)(?![a-z]))"
    return bool(re.search(rf"{re.escape(word[-1])}{follows}", text, re.IGNORECASE))


def option_stock_answer(product: Product, text: str) -> str | None:
    """The stock of the one option a message names (a colour, a size or both), or None when it
    names none or several (the whole cell answers those) or the cell says nothing of options."""
    note = stock_note(product)
    said = normalize(text).lower()
    colours = [v.name for v in product.variants if option_in(v.name, said)]
    sizes = [m.upper() for m in _SIZE.findall(said)]
    if not note or len(colours) > 1 or not (colours or sizes):
        return None
    for part in _PART.split(note):
        out = OUT_OF_STOCK.search(part)
        if out is not None and _names(part[: out.start()], colours, sizes):
            return part.strip(" ，,!！")
    mentioned = any(_mentions(colour, note) for colour in colours)
    if not product.in_stock or not colours or mentioned:
        return None  # "#05 缺货" may be the "#05 烂番茄" asked about: the whole cell says
    return f"{colours[0]}{_size_label(sizes)}现在有货，可以直接拍"


def _names(subject: str, colours: list[str], sizes: list[str]) -> bool:
    """A line's subject ("奶白S", "雾蓝XL", "#05") is the option asked about: it says a word of
    the colour said, and a size it names is the one said (or no size was said)."""
    in_subject = [m.upper() for m in _SIZE.findall(subject.lower())]
    if colours and not _mentions(colours[0], subject):
        return False
    if not colours and not set(sizes) & set(in_subject):
        return False
    return not in_subject or not sizes or bool(set(sizes) & set(in_subject))


def _mentions(option: str, text: str) -> bool:
    return any(option_in(word, text) for word in _option_words(option))


def _size_label(sizes: list[str]) -> str:
    if not sizes:
        return ""
    return sizes[0] if sizes[0].endswith("码") else f"{sizes[0]}码"
