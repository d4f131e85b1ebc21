"""snownlp's sentiment model, read from snownlp's own data files without importing snownlp.

`import snownlp` loads its word segmenter as Python dicts keyed by (character, tag) tuples:
12.9k unigrams, 346k bigrams and 928k trigrams, 430 MB of the service's memory for a model
consulted on a few messages in a thousand (copilot/sentiment/analyzer.py). Here the same counts
sit in
sorted int64 arrays (states numbered, a bigram or trigram packed into one integer): 35 MB
of RSS in all, measured.
The arithmetic is snownlp's, operation for operation, and candidates are visited in its order,
so every probability is the same float (tests/copilot/test_sentiment.py compares the two).

    model = SnowSentiment.load()      # seconds: converts seg.marshal.3 in a child process
    model.positive("东西很好，物流也快")  # == snownlp.SnowNLP(text).sentiments
"""

from __future__ import annotations

import array
import gzip
import importlib.util
import logging
import marshal
import pickle
import re
import subprocess
import sys
import threading
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from math import exp, log
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_TAGS = ("b", "m", "e", "s")
_BOS = ("", "BOS")
_ZH = re.compile("([\u4e00-\u9fa5]+)")


def snownlp_dir() -> Path:
    """Where the installed snownlp package keeps its data (found, not imported)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("snownlp is not installed (pip install snownlp)")
    return Path(next(iter(spec.submodule_search_locations)))


def _read_marshal(path: Path) -> Any:
    with gzip.open(path, "rb") as f:
        return marshal.loads(f.read())


@dataclass(frozen=True)
class _Counts:
    """A sorted key array and its counts: get() answers what snownlp's dict.get would."""

    keys: Sequence[int]
    counts: Sequence[int]

    @classmethod
    def of(cls, table: dict[int, int]) -> _Counts:
        ordered = sorted(table)
        return cls(array.array("q", ordered), array.array("q", (table[k] for k in ordered)))

    def get(self, key: int) -> int:
        at = bisect_left(self.keys, key)
        return self.counts[at] if at < len(self.keys) and self.keys[at] == key else 0


class _Segmenter:
    """snownlp.seg.y09_2047.CharacterBasedGenerativeModel.tag with numbered states."""

    def __init__(self, model: dict[str, Any]) -> None:
        uni = model["uni"]["d"]
        self.states: dict[tuple[str, str], int] = {s: n for n, s in enumerate(uni)}
        self.n = len(self.states)
        self.uni = [uni[s] for s in self.states]
        self.total = model["uni"]["total"]
        self.l1, self.l2, self.l3 = model["l1"], model["l2"], model["l3"]
        n, ids = self.n, self.states
        self.bi = _Counts.of({ids[a] * n + ids[b]: c for (a, b), c in model["bi"]["d"].items()})
        self.tri = _Counts.of(
            {(ids[a] * n + ids[b]) * n + ids[c]: v for (a, b, c), v in model["tri"]["d"].items()}
        )
        self.bos = ids[_BOS]

    def _uni(self, state: int) -> int:
        return self.uni[state] if state >= 0 else 0

    def _bi(self, s1: int, s2: int) -> int:
        return self.bi.get(s1 * self.n + s2) if s1 >= 0 and s2 >= 0 else 0

    def log_prob(self, s1: int, s2: int, s3: int) -> float:
        uni = self.l1 * (float(self._uni(s3)) / self.total)
        below = self._uni(s2)
        bi = 0 if below == 0 else float(self.l2 * self._bi(s2, s3)) / below
        known = s1 >= 0 and s2 >= 0 and s3 >= 0
        count = self.tri.get((s1 * self.n + s2) * self.n + s3) if known else 0
        below = self._bi(s1, s2)
        tri = 0 if below == 0 else float(self.l3 * count) / below
        if uni + bi + tri == 0:
            return float("-inf")
        return log(uni + bi + tri)

    def tag(self, text: str) -> list[tuple[str, str]]:
        unseen: dict[tuple[str, str], int] = {}  # states the model never saw: counts of 0

        def state(pair: tuple[str, str]) -> int:
            found = self.states.get(pair)
            return found if found is not None else unseen.setdefault(pair, -1 - len(unseen))

        now: list[tuple[tuple[int, int], float, list[str]]] = [((self.bos, self.bos), 0.0, [])]
        for char in text:
            stage: dict[tuple[int, int], tuple[float, list[str]]] = {}
            if all(self._uni(state((char, t))) == 0 for t in _TAGS):
                for t in _TAGS:
                    for pre in now:
                        stage[(pre[0][1], state((char, t)))] = (pre[1], [*pre[2], t])
            else:
                for t in _TAGS:
                    current = state((char, t))
                    for pre in now:
                        p = pre[1] + self.log_prob(pre[0][0], pre[0][1], current)
                        key = (pre[0][1], current)
                        if key not in stage or p > stage[key][0]:
                            stage[key] = (p, [*pre[2], t])
            now = [(key, value[0], value[1]) for key, value in stage.items()]
        return list(zip(text, max(now, key=lambda x: x[1])[2], strict=False))

    def words(self, text: str) -> Iterator[str]:
        """snownlp.seg.seg.Seg.seg: characters joined by their b/m/e/s tags."""
        word = ""
        for char, t in self.tag(text):
            if t == "e":
                yield word + char
                word = ""
            elif t in ("b", "s"):
                if word:
                    yield word
                word = char
            else:
                word += char
        if word:
            yield word


# Run by a child process: it reads snownlp's dicts and sends back only the compact copy.
_CONVERT = (
    "import pickle, sys; from pathlib import Path; "
    "from copilot.sentiment.snow_model import _Segmenter, _read_marshal; "
    "sys.stdout.buffer.write(pickle.dumps(_Segmenter(_read_marshal(Path(sys.argv[1])))))"
)


def _compact_segmenter(path: Path) -> _Segmenter:
    """The segmenter, converted in a child process. Converting here would leave ~130 MB behind:
    the 1.3 million marshalled tuples are freed, but the few objects kept among them pin the
    allocator's arenas (measured: +388 MB while converting, +131 MB after freeing and
    malloc_trim, against ~25 MB for what is kept). If the child fails, convert here anyway."""
    try:
        done = subprocess.run([sys.executable, "-c", _CONVERT, str(path)], capture_output=True,
                              check=True, timeout=600)  # fmt: skip
        segmenter = pickle.loads(done.stdout)  # our own child's output, not outside input
        if isinstance(segmenter, _Segmenter):
            return segmenter
    except (OSError, subprocess.SubprocessError, pickle.UnpicklingError) as exc:
        logger.warning(
            "converting snownlp's segmenter in a child process failed (%s): in-process", exc
        )
    return _Segmenter(_read_marshal(path))


class SnowSentiment:
    """snownlp's Bayes sentiment classifier over its own segmenter and stop words."""

    def __init__(self, segmenter: _Segmenter, stop: frozenset[str], bayes: dict[str, Any]) -> None:
        self.segmenter = segmenter
        self.stop = stop
        self.total = bayes["total"]
        self.classes: dict[str, dict[str, Any]] = bayes["d"]

    @classmethod
    def load(cls, package: Path | None = None) -> SnowSentiment:
        package = package or snownlp_dir()
        segmenter = _compact_segmenter(package / "seg" / "seg.marshal.3")
        stop = (package / "normal" / "stopwords.txt").read_text(encoding="utf-8")
        bayes = _read_marshal(package / "sentiment" / "sentiment.marshal.3")
        return cls(segmenter, frozenset(w.strip() for w in stop.splitlines()), bayes)

    def words(self, text: str) -> list[str]:
        """snownlp.seg.seg then normal.filter_stop."""
        words: list[str] = []
        for part in _ZH.split(text):
            part = part.strip()
            if not part:
                continue
            if _ZH.match(part):
                words += self.segmenter.words(part)
            else:
                words += [w.strip() for w in part.split() if w.strip()]
        return [w for w in words if w not in self.stop]

    def positive(self, text: str) -> float:
        """The probability that `text` is positive: SnowNLP(text).sentiments."""
        words = self.words(text)
        scores = {}
        for name, counts in self.classes.items():
            score = log(counts["total"]) - log(self.total)
            for word in words:
                score += log(float(counts["d"].get(word, counts["none"])) / counts["total"])
            scores[name] = score
        best, prob = "", 0.0
        for name in self.classes:
            try:
                now = 0.0
                for other in self.classes:
                    now += exp(scores[other] - scores[name])
                now = 1 / now
            except OverflowError:
                now = 0
            if now > prob:
                best, prob = name, now
        return prob if best == "pos" else 1 - prob


_shared: SnowSentiment | None = None
_shared_lock = threading.Lock()


def shared_model() -> SnowSentiment:
    """One model per process, as `import snownlp` had it: every analyzer (the service's
    pipeline and its Redis-less fallback, the eval's workers) reads the same read-only counts."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SnowSentiment.load()
        return _shared
