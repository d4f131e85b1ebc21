"""Synthetic but plausible Chinese shop knowledge at any size, for speed benchmarks.

Deterministic for a seed. Not for quality figures: those come from the hand-written demo shops.
"""

from __future__ import annotations

import random
from typing import Any

MATERIALS = [
    "316不锈钢",
    "304不锈钢",
    "钛合金",
    "玻璃",
    "陶瓷",
    "纯棉",
    "羊毛",
    "涤纶",
    "白鸭绒",
    "硅胶",
    "竹纤维",
    "牛皮",
]
ITEMS = [
    "保温杯",
    "焖烧杯",
    "饭盒",
    "水壶",
    "卫衣",
    "羽绒服",
    "牛仔裤",
    "围巾",
    "袜子",
    "拖鞋",
    "抱枕",
    "收纳箱",
    "雨伞",
    "背包",
    "手套",
    "睡衣",
    "杯刷",
    "密封圈",
    "杯套",
    "毛巾",
]
STYLES = [
    "简约",
    "复古",
    "ins风",
    "加厚",
    "轻便",
    "大容量",
    "儿童",
    "情侣款",
    "商务",
    "运动",
    "冬季",
    "便携",
]
SIZES = ["S|M|L|XL", "350ml|500ml|750ml=109", "均码", "36|37|38|39|40", "小号|中号|大号"]
QUESTION_TEMPLATES = [
    "{item}能用洗碗机洗吗",
    "{item}会不会掉色",
    "{item}多久能发货",
    "{item}有没有{size}的",
    "{item}保修多久",
    "{item}是什么材质的",
    "{item}可以开发票吗",
    "{item}怎么清洗",
    "{item}有赠品吗",
    "{item}送人合适吗",
    "{item}是正品吗",
    "{item}能退换吗",
    "{item}有异味吗",
    "{item}适合几岁孩子",
    "{item}冬天能用吗",
]
ANSWERS = [
    "亲，这款{item}支持七天无理由退换，请放心购买哦~",
    "您好，{item}采用{material}材质，安全无异味。",
    "亲，{item}下单后48小时内发货，偏远地区会稍慢一些。",
    "亲，{item}建议手洗，避免暴晒，可以用得更久哦。",
]


def synthetic_shop(n_entries: int, seed: int = 7, faq_share: float = 0.7) -> list[dict[str, Any]]:
    """n_entries dicts in the JSONL form: products and FAQ (about faq_share of them)."""
    rng = random.Random(seed)
    n_products = max(1, int(n_entries * (1 - faq_share)))
    rows: list[dict[str, Any]] = []
    for i in range(n_products):
        material, item, style = rng.choice(MATERIALS), rng.choice(ITEMS), rng.choice(STYLES)
        rows.append(
            {
                "kind": "product",
                "id": f"p{i:06d}",
                "title": f"{style}{material}{item} {i}号款",
                "price": f"{rng.randint(9, 999)}.{rng.choice(['0', '9'])}",
                "variants": rng.choice(SIZES),
                "selling_points": f"{material}材质|{style}设计|{rng.randint(2, 24)}小时发货",
            }
        )
    for i in range(n_entries - n_products):
        product = rows[rng.randrange(n_products)]
        item = product["title"]
        template = QUESTION_TEMPLATES[i % len(QUESTION_TEMPLATES)]
        rows.append(
            {
                "kind": "faq",
                "id": f"f{i:06d}",
                "product_id": product["id"],
                "question": template.format(
                    item=item, size=rng.choice(["大号", "小号", "500ml", "XL"])
                ),
                "answer": rng.choice(ANSWERS).format(item=item, material=rng.choice(MATERIALS)),
            }
        )
    return rows


def synthetic_queries(n: int, seed: int = 11) -> list[str]:
    """Distinct customer-style questions (distinct so no query cache flatters the latency)."""
    rng = random.Random(seed)
    queries: set[str] = set()
    while len(queries) < n:
        template = rng.choice(QUESTION_TEMPLATES)
        item = f"{rng.choice(STYLES)}{rng.choice(ITEMS)}"
        queries.add(
            template.format(item=item, size=rng.choice(["大号", "L码", "750ml"]))
            + rng.choice(["", "？", "呀", "亲"])
            + str(len(queries))
        )
    return sorted(queries)
