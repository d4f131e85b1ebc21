"""Mine a shop's response bank from past conversations: pairs, cleaning, dropping, merging.

A pair is (the customer's message + the turns before it -> the agent's reply that follows).
Both sides are cleaned: JDDC anonymisation placeholders and personal data become slots
({订单号}, {手机号}, {姓名}, {地址}, {金额}, ...) or disappear (customer ids, emoji codes), so no
customer's data can reach another customer. A reply is dropped when it cannot serve as a
suggestion: only a placeholder, too short to help, too long, a link, off-platform contact or
payment, another shop or platform named, or a price or promotion stated (prices go stale; the KB
and promotion math own them). Replies that are the same after normalising punctuation, spaces
and slots are one reply; near-duplicates (character-bigram Jaccard >= merge_jaccard) merge into
the more frequent one. Each reply keeps its count, its most frequent wording, a few example
contexts (the retrieval units) and the intents seen with it when the chats were labelled.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from copilot.text.similarity import SLOT, bigrams, normalized_key
from copilot.types import Conversation

DROP_REASONS = (
    "no_message", "placeholder_only", "too_short", "too_long", "link", "off_platform",
    "other_shop", "price",
)  # fmt: skip
PLATFORM_NAMES: dict[str, tuple[str, ...]] = {
    "pinduoduo": ("拼多多",), "taobao": ("淘宝", "天猫"), "jd": ("京东",), "kuaishou": ("快手",),
    "douyin": ("抖音", "抖店"), "xiaohongshu": ("小红书",),
}  # fmt: skip


@dataclass(frozen=True)
class HistoryConfig:
    """Mining and retrieval settings of the response bank.

    Re-ranking score of a retrieved reply =
        fit_weight * fit                 reciprocal-rank fusion score / the query's best (0..1)
      + consensus_weight * consensus     fit-weighted bigram resemblance to the other top replies
      + count_weight * log-count prior   log(1 + count) / log(1 + the bank's largest count)
      + context_weight * context         bigram overlap of the last two turns with the example's
      + intent_weight * [intent seen]    the classified intent was labelled with this reply

    Weights were chosen on the JDDC sample (bank from 80% of its sessions, 1,097 held-out
    pairs; top-1 character-bigram Dice with the agent's actual reply): fit alone 0.096, these
    defaults 0.131; consensus 4 reaches 0.148 but by picking generic replies ("请您提供下订单号"),
    so it stops at 1. The fit spans only about 0.85-1 over the top 12 (RRF), so the others'
    weights are large relative to it. Context hardly moves JDDC's figure; it is what separates
    a bare "好的" after "能改地址吗" from one after "今天能发货吗".
    """

    context_turns: int = 4  # turns before the customer's message kept as its context
    max_examples: int = 50  # example contexts kept per reply: its retrieval units
    min_reply_chars: int = 4  # Chinese characters, letters or digits, slots not counted
    max_reply_chars: int = 300  # the guardrails' default length limit
    merge_jaccard: float = 0.8  # character-bigram Jaccard at which two replies merge
    candidates: int = 80  # units fetched from each retriever
    rerank_depth: int = 60  # distinct replies re-ranked (and voting in the consensus)
    dense_weight: float = 1.5
    keyword_weight: float = 1.0
    rrf_k: int = 60
    fit_weight: float = 1.0
    consensus_weight: float = 1.0
    count_weight: float = 0.2
    context_weight: float = 0.2
    intent_weight: float = 0.2
    # e5 cosines sit in a narrow band (~0.83-0.93) whose place moves with the bank's domain, so
    # the relevance floor is calibrated per bank, from the median cosine m of random pairs of
    # example messages of different replies (two unrelated questions of this shop): a hit must
    # close this share of the gap from m to 1. On the JDDC hold-out the top reply's bigram Dice
    # was 0.03 for cosines below 0.91 and 0.23 above 0.97: an unrelated reply is worse than none.
    relevance_margin: float = 0.25
    min_similarity: float = 0.0  # an absolute floor on top, for a deployment that calibrated one
    # Which k replies are offered. "neighbours" (the default): the examples nearest the query
    # (message cosine + neighbour_agent_weight * cosine of the agent turns they answer) vote,
    # each with its count, and the k replies that together win most votes are picked (greedy
    # minimum Bayes risk; a reply wins an example's vote when its bigram overlap with that
    # example's reply reaches neighbour_match): what agents said in this situation, generic
    # replies included when that is what they said. "score" takes the top k of the
    # re-ranking above; "consensus" picks, from its best `consensus_pool`, the k that resemble
    # most of the pool, each reply weighted by log(1 + count). JDDC sample, held-out turns
    # (`copilot eval run`, bank from the other 80%), accept@3: score 0.153, consensus 0.202,
    # neighbours 0.235 (0.228 without the agent turn; flat votes, temperature 1: 0.242, but a
    # small bank's nearest example no longer decides).
    selection: Literal["score", "consensus", "neighbours"] = "neighbours"
    consensus_pool: int = 30
    neighbours: int = 150  # voting examples (80: accept@3 0.227, 250: 0.235)
    neighbour_prefetch: int = 1000  # examples fetched by message cosine before the agent turn
    neighbour_agent_weight: float = 1.0  # 0.6: 0.235, 1.5: 0.229
    neighbour_match: float = 0.5
    # A vote's weight: count * exp(-(fit gap to the nearest) / (this * (1 - m))), m the median
    # cosine of unrelated examples (see relevance_margin): the nearest example decides in a
    # small bank, the many near ones in a large one
    neighbour_temperature: float = 0.3


@dataclass(frozen=True)
class ShopNames:
    """Who the shop is, so replies naming anyone else are dropped."""

    own: tuple[str, ...] = ()  # the shop's names and brands
    others: tuple[str, ...] = ()  # other shops' names (e.g. every other shop of the service)
    platform: str | None = None  # pinduoduo, taobao, jd, ...: other platforms' names are foreign


NO_NAMES = ShopNames()
DEFAULT_CONFIG = HistoryConfig()


@dataclass(frozen=True)
class Example:
    message: str  # the customer's cleaned message
    context: tuple[tuple[str, str], ...] = ()  # (role, cleaned text) of the turns before it
    count: int = field(default=1, compare=False)  # pairs with this message and context

    @property
    def agent_turn(self) -> str:
        """The agent's turn the message answers (consecutive ones joined), "" at a chat's start."""
        parts: list[str] = []
        for role, text in reversed(self.context):
            if role == "agent":
                parts.append(text)
            elif parts:
                break
        return "，".join(reversed(parts))


@dataclass(frozen=True)
class MinedReply:
    id: str  # "h-" + sha1 of the normalised text: the same reply keeps its id across imports
    text: str  # the most frequent wording
    count: int  # pairs merged into it
    examples: list[Example]  # the most frequent customer messages (+ context) it answered
    intents: Mapping[str, int] = field(default_factory=dict)  # labelled intent -> pairs

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(SLOT.findall(self.text)))


@dataclass(frozen=True)
class MiningReport:
    conversations: int
    pairs: int  # agent turns seen
    replies: int  # distinct replies kept
    merged: int  # kept pairs that joined an existing reply
    dropped: Mapping[str, int]  # reason -> pairs


# --- cleaning --------------------------------------------------------------------------------

_PROVINCES = (
    "北京|天津|上海|重庆|河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|"
    "湖南|广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾|内蒙古|广西|西藏|宁夏|新疆|香港|澳门"
)
_HOUSE = r"(?:\d+|[一二三四五六七八九十百]+)(?:号楼|号院|号|弄|栋|幢|室|单元)"
_CITY_DISTRICT = r"[\u4e00-\u9fff]{2,4}市[\u4e00-\u9fff]{1,5}?(?:区|县)"
_ADDRESS_START = rf"(?:(?:{_PROVINCES})(?:省|市|自治区)?|{_CITY_DISTRICT})"
_ADDRESS = re.compile(
    rf"{_ADDRESS_START}[\u4e00-\u9fffA-Za-z0-9\-]{{0,30}}?{_HOUSE}"
    rf"(?:[A-Za-z0-9\-]*[\u4e00-\u9fff]{{0,6}}?\d+(?:号楼|号|室|栋|幢|单元|楼|层))*"
)
_PROVINCE_START = re.compile(f"(?:{_PROVINCES})")
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵"
)
_JDDC_SLOTS = {
    "订单": "{订单号}", "金额": "{金额}", "姓名": "{姓名}", "日期": "{日期}", "时间": "{时间}",
    "地址": "{地址}", "电话": "{手机号}", "身份证号": "{身份证号}", "邮箱": "{邮箱}",
    "数字": "{数字}", "组织机构": "{机构}", "站点": "{站点}", "链接": "{链接}",
}  # fmt: skip


def _jddc_slot(match: re.Match[str]) -> str:
    return _JDDC_SLOTS.get(match.group(1), "")


# Order matters: emoji codes hold [数字x]; an ID number is longer than an order number.
_SUBSTITUTIONS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"#E-[A-Za-z]+(?:\[数字x\]|\d+)?|#E(?![A-Za-z0-9])"), ""),
    (re.compile(r"\[?USERID_(?:\d+|\[数字x\])\]?"), ""),
    (re.compile(r"\[([\u4e00-\u9fffA-Za-z]{1,6})x\]"), _jddc_slot),
    (re.compile(r"https?://\S+|www\.[\w.-]+\S*"), "{链接}"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "{邮箱}"),
    (re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])"), "{身份证号}"),
    (re.compile(r"(?<!\d)1[3-9]\d(?:\d{4}|\*{4})\d{4}(?!\d)"), "{手机号}"),
    (re.compile(r"(?<![0-9A-Za-z])(?:SF|YT|JT|ZTO|YD|STO|JDV?|EMS|DPK)\d{8,}(?!\d)"), "{运单号}"),
    (re.compile(r"(?<![0-9A-Za-z])\d{6}-\d{10,}|(?<![0-9A-Za-z])\d{10,}(?![0-9])"), "{订单号}"),
    (re.compile(r"\{数字\}\s*(?:元|块钱|块)"), "{金额}"),
    (re.compile(rf"(?:{_PROVINCES})(?:省|市|自治区)?\{{地址\}}"), "{地址}"),
    (
        re.compile(r"(收件人|收货人|联系人|姓名|名字)(是|为|叫|[:：])?\s*[\u4e00-\u9fff]{2,3}(?![\u4e00-\u9fff])"),
        r"\1\2{姓名}",
    ),
    (re.compile(rf"[{_SURNAMES}](先生|女士|小姐)"), r"{姓名}\1"),
)  # fmt: skip


def clean_text(text: str) -> str:
    """Placeholders and personal data -> slots; spaces collapsed. Keeps the writer's punctuation."""
    for pattern, replacement in _SUBSTITUTIONS:
        text = pattern.sub(replacement, text)
    text = _ADDRESS.sub(_address_slot, text)
    return " ".join(text.split()).strip(" ，,")


def _address_slot(match: re.Match[str]) -> str:
    found = match.group()
    if _PROVINCE_START.match(found):
        return "{地址}"
    # "改成杭州市…": the match may start early; most city names are two characters.
    return found[: max(0, found.index("市") - 2)] + "{地址}"


_OFF_PLATFORM = re.compile(
    r"微信|威信|薇信|weixin|(?<![A-Za-z])(?:qq|vx|wx|v信)(?![A-Za-z])|加我|加v|私聊|支付宝|转账|扫码|二维码",
    re.IGNORECASE,
)
_PRICE = re.compile(
    r"[¥￥]\s*\d|\d+(?:\.\d+)?\s*(?:元|块钱|块(?!\w))|满\d+(?:元)?减\d+|\d+(?:\.\d+)?折|立减\d+",
)
_STORE_NAME = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]{2,12}(?:旗舰店|专卖店|专营店|官方店|小店)")
_MEANINGFUL = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")


def drop_reason(reply: str, names: ShopNames, config: HistoryConfig) -> str | None:
    """Why a cleaned reply must not enter the bank, or None to keep it."""
    bare = SLOT.sub("", reply)
    meaningful = len(_MEANINGFUL.findall(bare))
    if meaningful == 0:
        return "placeholder_only"
    if meaningful < config.min_reply_chars:
        return "too_short"
    if len(reply) > config.max_reply_chars:
        return "too_long"
    if "{链接}" in reply:
        return "link"
    if _OFF_PLATFORM.search(reply):
        return "off_platform"
    if _names_other_shop(reply, names):
        return "other_shop"
    if _PRICE.search(bare):
        return "price"
    return None


def _names_other_shop(reply: str, names: ShopNames) -> bool:
    if any(name and name in reply for name in names.others):
        return True
    for match in _STORE_NAME.finditer(reply):
        if not any(own and own in match.group() for own in names.own):
            return True
    if names.platform is None:
        return False
    foreign = (n for p, ns in PLATFORM_NAMES.items() if p != names.platform for n in ns)
    return any(name in reply for name in foreign)


def reply_id(text: str) -> str:
    return "h-" + hashlib.sha1(normalized_key(text).encode("utf-8")).hexdigest()[:16]


# --- pairs -----------------------------------------------------------------------------------


@dataclass
class _Group:
    """Pairs whose replies share one normalised key (then a cluster of near-duplicate keys)."""

    key: str
    count: int = 0
    wordings: Counter[str] = field(default_factory=Counter)
    examples: Counter[Example] = field(default_factory=Counter)
    intents: Counter[str] = field(default_factory=Counter)

    def absorb(self, other: _Group) -> None:
        self.count += other.count
        self.wordings.update(other.wordings)
        self.examples.update(other.examples)
        self.intents.update(other.intents)


def mine(
    conversations: Iterable[Conversation],
    *,
    labels: Mapping[tuple[str, int], Mapping[str, Any]] | None = None,
    names: ShopNames = NO_NAMES,
    config: HistoryConfig = DEFAULT_CONFIG,
    on_conversation: Callable[[], None] | None = None,
) -> tuple[list[MinedReply], MiningReport]:
    """The response bank of these conversations, most frequent reply first."""
    groups: dict[str, _Group] = {}
    dropped: Counter[str] = Counter()
    seen = pairs = 0
    for conversation in conversations:
        seen += 1
        for index, message, context, reply in _pairs(conversation, config.context_turns):
            pairs += 1
            reason = "no_message" if not message else drop_reason(reply, names, config)
            if reason is not None:
                dropped[reason] += 1
                continue
            key = normalized_key(reply)
            group = groups.setdefault(key, _Group(key))
            group.count += 1
            group.wordings[reply] += 1
            group.examples[Example(message, context)] += 1
            intent = _intent_of(conversation, index, labels)
            if intent:
                group.intents[intent] += 1
        if on_conversation is not None:
            on_conversation()
    clusters = merge_near_duplicates(list(groups.values()), config.merge_jaccard)
    replies = [_reply(cluster, config.max_examples) for cluster in clusters]
    replies.sort(key=lambda reply: (-reply.count, reply.id))
    kept = sum(r.count for r in replies)
    report = MiningReport(
        conversations=seen,
        pairs=pairs,
        replies=len(replies),
        merged=kept - len(replies),
        dropped={reason: dropped[reason] for reason in DROP_REASONS if dropped[reason]},
    )
    return replies, report


def _pairs(
    conversation: Conversation, context_turns: int
) -> Iterable[tuple[int, str, tuple[tuple[str, str], ...], str]]:
    """(agent turn index, customer message, context, reply), cleaned, for every agent turn."""
    turns = conversation.turns
    cleaned = [clean_text(turn.text) for turn in turns]
    for index, turn in enumerate(turns):
        if turn.role != "agent":
            continue
        start = index
        while start > 0 and turns[start - 1].role == "customer":
            start -= 1
        message = "，".join(text for text in cleaned[start:index] if text)
        context = tuple(
            (turns[i].role, cleaned[i]) for i in range(max(0, start - context_turns), start)
        )
        yield index, message, tuple(item for item in context if item[1]), cleaned[index]


def _intent_of(
    conversation: Conversation,
    agent_index: int,
    labels: Mapping[tuple[str, int], Mapping[str, Any]] | None,
) -> str | None:
    """The intent labelled on the customer turns the reply answers (the latest labelled)."""
    if not labels or conversation.conversation_id is None:
        return None
    index = agent_index - 1
    while index >= 0 and conversation.turns[index].role == "customer":
        found = labels.get((conversation.conversation_id, index), {}).get("intent")
        if found:
            return str(found)
        index -= 1
    return None


def _reply(group: _Group, max_examples: int) -> MinedReply:
    # The most frequent wording represents the reply; ties go to the shorter, then the first.
    text = min(group.wordings.items(), key=lambda item: (-item[1], len(item[0]), item[0]))[0]
    examples = [replace(e, count=n) for e, n in group.examples.most_common(max_examples)]
    return MinedReply(reply_id(text), text, group.count, examples, dict(group.intents))


# --- near-duplicate merging ------------------------------------------------------------------


def merge_near_duplicates(groups: list[_Group], threshold: float) -> list[_Group]:
    """Greedy clustering, most frequent first: a group joins the first earlier cluster whose
    representative it matches at Jaccard >= threshold, else starts one. Candidates come from
    prefix filtering (rarest bigrams first), so 20k replies never meet pairwise."""
    ordered = sorted(groups, key=lambda g: (-g.count, len(g.key), g.key))
    grams = [bigrams(g.key) for g in ordered]
    frequency: Counter[str] = Counter(gram for gs in grams for gram in gs)
    clusters: list[_Group] = []
    cluster_grams: list[frozenset[str]] = []
    postings: dict[str, list[int]] = {}
    for group, own in zip(ordered, grams, strict=True):
        rare_first = sorted(own, key=lambda gram: (frequency[gram], gram))
        prefix = rare_first[: _prefix_length(len(rare_first), threshold)]
        target = _first_match(own, prefix, postings, cluster_grams, threshold)
        if target is not None:
            clusters[target].absorb(group)
            continue
        for gram in prefix:
            postings.setdefault(gram, []).append(len(clusters))
        clusters.append(group)
        cluster_grams.append(own)
    return clusters


def _prefix_length(size: int, threshold: float) -> int:
    return size - math.ceil(threshold * size - 1e-9) + 1


def _first_match(
    own: frozenset[str],
    prefix: list[str],
    postings: dict[str, list[int]],
    cluster_grams: list[frozenset[str]],
    threshold: float,
) -> int | None:
    candidates = sorted({c for gram in prefix for c in postings.get(gram, ())})
    for candidate in candidates:
        other = cluster_grams[candidate]
        if min(len(own), len(other)) < threshold * max(len(own), len(other)):
            continue  # sizes alone rule it out
        if len(own & other) >= threshold * len(own | other):
            return candidate
    return None
