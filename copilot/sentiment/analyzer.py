"""Customer sentiment: how negative a message is, whether the customer is angry, what they threaten.

Two signals, combined:

- an anger/threat lexicon of customer-service Chinese: threats name an authority or a public
  channel (12315, 投诉, 差评, 曝光, 律师, 工商, 消协 ...), anger words insult or despair
  (骗子, 垃圾, 气死, 什么破 ...) or set an ultimatum (再不…就…); "！！", "？？？" and angry
  emoji intensify;
- snownlp's sentiment model (trained on product reviews). On customer-service messages it is a
  weak signal: on our training examples neutral after-sales questions average 0.75-0.93
  negative (退款怎么还没到账: 0.98), complaints 0.84. So it only scales the score and can never
  make a message angry on its own.

    negativity = 1 - (1 - lexicon) * (1 - SNOWNLP_SHARE * excess)

where excess is how far snownlp's negative probability lies above neutral (0.5), rescaled to
0..1. snownlp alone therefore reaches at most SNOWNLP_SHARE (0.4): below ANGER_NEGATIVITY, so
anger always needs a lexicon hit, and a polite question stays under it.

snownlp costs milliseconds a new message (its HMM word segmenter), and routing and upsell act
only on `anger` and the threats. The negativity lies between its values at excess 0 and 1,
so when both ends fall on the same side of ANGER_NEGATIVITY (every message but one whose only
lexicon hit is an intensifier) anger is decided without snownlp, and `negativity` is computed
when first read: the same values as always, paid for only by a caller that reads them.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial

THREAT_WORDS = (
    "12315", "投诉", "差评", "曝光", "律师", "起诉", "法院", "工商", "消协", "市场监管", "举报",
    "报警", "媒体", "315晚会",
)  # fmt: skip
ANGER_WORDS = (
    "骗子", "骗人", "欺骗", "垃圾", "坑人", "坑爹", "黑店", "气死", "什么破", "破玩意", "破东西",
    "恶心", "太差", "差劲", "无语", "滚蛋", "妈的", "尼玛", "他妈", "tmd", "有病", "搞什么",
    "什么玩意", "忍无可忍", "受够了", "再也不买", "恶劣", "敷衍", "耍我", "太过分", "过分了",
    "失望", "不要脸", "离谱",
)  # fmt: skip
# An ultimatum: "再不发货我就退款", "再不处理就投诉".
_ULTIMATUM = re.compile(r"再不.{1,15}就")
_INTENSIFIERS = re.compile(r"[!！]{2,}|[?？]{3,}|[?？][!！]|[😡😠🤬💢👿]")
# "不会给差评的", "没有要投诉" are not threats.
_NEGATED = re.compile(r"(不|没|别|不会|没有|不是)(要|想|会|打算)?(给)?$")

# Lexicon weights, combined as independent evidence (1 - prod(1 - w)): one threat word alone
# (0.6) or one anger word alone (0.5) is a clearly negative message; intensifiers add a little.
THREAT_WEIGHT = 0.6
ANGER_WEIGHT = 0.5
INTENSIFIER_WEIGHT = 0.2
SNOWNLP_SHARE = 0.4  # the most snownlp can add on its own: see the module docstring
# Anger: at or above this. One anger word or one threat reaches it, so does "！！" with a very
# negative snownlp reading (1 - 0.8 * 0.6 = 0.52); snownlp alone (<= 0.4) cannot.
ANGER_NEGATIVITY = 0.5


def _no_excess() -> float:
    return 0.0


@dataclass(frozen=True)
class Sentiment:
    lexicon: float  # the lexicon's evidence alone, 0..1: a floor under the negativity
    anger: bool
    threats: tuple[str, ...] = ()  # the threat words found, in lexicon order
    # snownlp's excess (see the module docstring), called at most once, when negativity is read
    excess: Callable[[], float] = field(default=_no_excess, repr=False, compare=False)

    @property
    def negative(self) -> bool:
        """What routing and upsell act on: angry, or threatening."""
        return self.anger or bool(self.threats)

    @cached_property
    def negativity(self) -> float:
        """0 (calm or pleased) .. 1 (furious); runs snownlp on first read if anger did not."""
        return round(combine(self.lexicon, self.excess()), 4)


def combine(lexicon: float, excess: float) -> float:
    """The negativity formula of the module docstring (unrounded)."""
    return 1.0 - (1.0 - lexicon) * (1.0 - SNOWNLP_SHARE * excess)


class SentimentAnalyzer:
    """Lexicon + snownlp's model (copilot/sentiment/snow_model.py: its data, not its 430 MB of
    dicts). Reading the model takes seconds, so it loads in warm_up()."""

    def __init__(self, use_snownlp: bool = True) -> None:
        self.use_snownlp = use_snownlp
        self._positive: Callable[[str], float] | None = None  # snownlp's P(positive)
        self._lock = threading.Lock()
        # snownlp costs milliseconds a message, and customers repeat themselves ("在吗")
        self._scores: OrderedDict[str, float] = OrderedDict()
        self.cache_size = 4096

    def warm_up(self) -> None:
        """Load snownlp's model once; safe to call again."""
        if not self.use_snownlp:
            return
        with self._lock:
            if self._positive is None:
                from copilot.sentiment.snow_model import shared_model

                self._positive = shared_model().positive

    def analyze(self, text: str) -> Sentiment:
        threats = _found(THREAT_WORDS, text)
        anger_words = _found(ANGER_WORDS, text) + (("再不…就",) if _ULTIMATUM.search(text) else ())
        intensified = bool(_INTENSIFIERS.search(text))
        lexicon = 1.0 - (
            (1 - THREAT_WEIGHT) ** len(threats)
            * (1 - ANGER_WEIGHT) ** len(anger_words)
            * (1 - INTENSIFIER_WEIGHT * intensified)
        )
        excess = partial(self._excess, text)
        # combine() is monotone in the excess in floating point too (each rounding is), so the
        # two ends agreeing settles anger for every excess in between
        calm, furious = (combine(lexicon, e) >= ANGER_NEGATIVITY for e in (0.0, 1.0))
        anger = calm if calm == furious else combine(lexicon, excess()) >= ANGER_NEGATIVITY
        return Sentiment(lexicon, anger, threats, excess)

    def _excess(self, text: str) -> float:
        """snownlp's negative probability above neutral, rescaled to 0..1 (0 if disabled)."""
        if not self.use_snownlp or not text.strip():
            return 0.0
        cached = self._scores.get(text)
        if cached is not None:
            return cached
        self.warm_up()
        assert self._positive is not None
        negative = 1.0 - float(self._positive(text))
        excess = min(1.0, max(0.0, (negative - 0.5) / 0.5))
        with self._lock:
            self._scores[text] = excess
            if len(self._scores) > self.cache_size:
                self._scores.popitem(last=False)
        return excess


def _found(words: tuple[str, ...], text: str) -> tuple[str, ...]:
    lowered = text.lower()
    hits = []
    for word in words:
        start = lowered.find(word)
        while start >= 0 and _NEGATED.search(lowered[max(0, start - 4) : start]):
            start = lowered.find(word, start + 1)
        if start >= 0:
            hits.append(word)
    return tuple(hits)


_default: SentimentAnalyzer | None = None
_default_lock = threading.Lock()


def default_analyzer() -> SentimentAnalyzer:
    """The process-wide analyzer (created on first use, not at import)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SentimentAnalyzer()
        return _default


def warm_up() -> None:
    default_analyzer().warm_up()


def analyze(text: str) -> Sentiment:
    """Sentiment of one customer message, with the process-wide analyzer."""
    return default_analyzer().analyze(text)
