"""Personal data out of everything we store: phone numbers, ID numbers, addresses, names.

The live request still sees the real text (the agent needs it); only what is kept in Redis
(conversations, suggestion records, feedback) goes through `mask_pii`.
"""

from __future__ import annotations

import re

# A mainland mobile number not glued to other digits, written as people write it:
# 13812345678, 138-1234-5678, 138 1234 5678, +86 13812345678 -> 138****5678.
_PHONE = re.compile(r"(?<![\d+])(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
# Landlines: 010-12345678, 0571-8888888.
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[- ]?(\d{7,8})(?!\d)")
# 18-digit resident ID (last may be X), also typed in groups (110101 19900307 1234);
# 15-digit old ones.
_ID18 = re.compile(r"(?<![\dA-Za-z])(\d{4})(\d{2}) ?(\d{8}) ?(\d{3}[\dXx])(?![\dA-Za-z])")
_ID15 = re.compile(r"(?<![\dA-Za-z])(\d{4})\d{8}(\d{3})(?![\dA-Za-z])")
# An address: admin units (省/市/区/县...) then a street (路/街/巷...) with house numbers, or
# admin units with house numbers. A lone city ("上海市") or "型号" is not an address.
_ADMIN = r"[\u4e00-\u9fa5]{2,7}?(?:自治区|省|市|区|县|镇|乡)"
_STREET = r"[\u4e00-\u9fa5A-Za-z0-9]{1,12}?(?:大道|胡同|路|街|巷|弄|村)"
_HOUSE = r"[\dA-Za-z一二三四五六七八九十-]+(?:号楼|号院|单元|号|栋|幢|室|楼|座)"
_ADDRESS = re.compile(
    rf"(?:{_ADMIN}){{0,3}}{_STREET}(?:{_HOUSE})+|(?:{_ADMIN}){{1,3}}{_STREET}(?:{_HOUSE})*"
    rf"|(?:{_ADMIN}){{1,3}}(?:{_HOUSE})+"
)
# A name after a label or an introduction: 收件人：张三 / 姓名 李四 / 我叫张小明.
_NAME = re.compile(
    r"((?:收件人|收货人|姓名|联系人|名字|我叫|我的名字是|名字叫)\s*[:：是为]?\s*)"
    r"([\u4e00-\u9fa5]{2,4}|[A-Za-z]{2,20})"
)
# A bank card: 16-19 digits, maybe in groups of four, with a valid Luhn check digit (an order
# number of that length usually fails it and stays).
_CARD = re.compile(r"(?<![\dA-Za-z])\d{4}(?:[ -]?\d){12,15}(?![\dA-Za-z])")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
# Full-width digits and signs read as their ASCII forms before any number is matched.
_WIDE = str.maketrans("０１２３４５６７８９＋－＠．", "0123456789+-@.")


# What each kind of match cannot do without: most texts (every stored turn and candidate is
# masked) have none of it, and skipping the patterns then costs a tenth of running them.
_SEVEN_DIGITS = re.compile(r"\d{7}")  # the shortest number above: a landline's 7 digits
_NAME_LABEL = re.compile(r"收件人|收货人|姓名|联系人|名字|我叫")
# An address is two of: an admin unit, a street, a house number (see _ADDRESS's branches).
_ADDRESS_ENDS = (frozenset("自治区省市县镇乡"), frozenset("大道胡同路街巷弄村"),
                 frozenset("号楼院单元栋幢室座"))  # fmt: skip


def mask_pii(text: str) -> str:
    """The text with phone numbers, ID numbers, addresses and labelled names masked."""
    if not text:
        return text
    text = text.translate(_WIDE)
    if "@" in text:
        text = _EMAIL.sub(lambda m: f"{m.group(1)}***{m.group(2)}", text)
    if _SEVEN_DIGITS.search(text.replace(" ", "").replace("-", "")):
        text = _ID18.sub(_mask_id18, text)
        text = _ID15.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
        text = _CARD.sub(_mask_card, text)
        text = _PHONE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
        text = _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(2)[-4:]}", text)
    if _NAME_LABEL.search(text):
        text = _NAME.sub(lambda m: m.group(1) + m.group(2)[0] + "*" * (len(m.group(2)) - 1), text)
    chars = set(text)
    if sum(not chars.isdisjoint(ends) for ends in _ADDRESS_ENDS) >= 2:
        text = _ADDRESS.sub(_mask_address, text)
    return text


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _mask_id18(match: re.Match[str]) -> str:
    """A number with a valid GB 11643 check digit, or with a birth date where an ID has one
    (a mistyped ID is still someone's); an 18-digit order number stays."""
    number = match.group(0).replace(" ", "")
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    valid = "10X98765432"[total % 11] == number[17].upper()
    if not (valid or _BIRTH_DATE.match(number[6:14])):
        return match.group(0)
    return f"{match.group(1)}**********{match.group(4)}"


_BIRTH_DATE = re.compile(r"(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])$")


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if not 16 <= len(digits) <= 19 or not _luhn(digits):
        return match.group(0)
    return f"{digits[:4]} **** **** {digits[-4:]}"


def _luhn(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _mask_address(match: re.Match[str]) -> str:
    """Keep the first place unit (a province or city tells nothing about a person)."""
    address = match.group(0)
    cut = next((i + 1 for i, ch in enumerate(address) if ch in "省市"), 0)
    return address[:cut] + "[地址]"
