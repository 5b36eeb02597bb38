"""Map publisher sections onto the taxonomy; weak lexicon rules for broad sections."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

MIXED = "mixed"


@dataclass(frozen=True)
class LabelDecision:
    label: str | None
    method: str  # "section", "rule" or "none"
    section: str  # the section name that decided (or the broad one that sent it to the rules)


class SectionMap:
    """Section name -> label key or ``mixed``, with per-outlet overrides."""

    def __init__(self, sections: dict[str, list[str]], outlet_sections: dict[str, dict[str, str]] | None = None):
        self.table = {name: label for label, names in sections.items() for name in names}
        self.outlet_sections = outlet_sections or {}

    def lookup(self, section: str, outlet: str) -> str:
        override = self.outlet_sections.get(outlet, {})
        return override.get(section) or self.table.get(section, MIXED)

    def decide(self, sections: list[str], outlet: str) -> tuple[str | None, str]:
        """The first section, most specific first, that names a topic; else (None, broadest seen)."""
        for section in sections:
            label = self.lookup(section, outlet)
            if label != MIXED:
                return label, section
        return None, sections[-1] if sections else ""


def _alternation(terms: list[str], flags: int) -> re.Pattern | None:
    if not terms:
        return None
    body = "|".join(re.escape(t).replace(r"\ ", r"\s+") for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", flags)


class LexiconRules:
    """Transparent keyword rules: score each label by lexicon hits, keep only clear winners."""

    def __init__(
        self,
        lexicons: dict[str, list[str]],
        targets: list[str],
        min_score: float,
        margin: float,
        per_term_cap: int = 3,
    ):
        # One alternation per label and case mode: a few regex passes per article instead of hundreds.
        self.patterns = {
            label: [
                (_alternation([t for t in terms if t.isupper()], 0), str),
                (_alternation([t for t in terms if not t.isupper()], re.IGNORECASE), str.lower),
            ]
            for label, terms in lexicons.items()
        }
        self.targets = set(targets)
        self.min_score, self.margin, self.cap = min_score, margin, per_term_cap

    def _hits(self, label: str, text: str) -> Counter:
        hits: Counter = Counter()
        for pattern, canonical in self.patterns[label]:
            if pattern is not None:
                hits.update(" ".join(canonical(m).split()) for m in pattern.findall(text))
        return hits

    def scores(self, title: str, text: str) -> Counter:
        out: Counter = Counter()
        for label in self.patterns:
            body = sum(min(n, self.cap) for n in self._hits(label, text).values())
            in_title = len(self._hits(label, title))
            out[label] = body + 2 * in_title
        return out

    def decide(self, title: str, text: str) -> str | None:
        ranked = self.scores(title, text).most_common()
        if not ranked or ranked[0][0] not in self.targets:
            return None
        best_label, best = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0
        if best >= self.min_score and best >= self.margin * runner_up:
            return best_label
        return None


def label_article(
    sections: list[str], outlet: str, title: str, text: str, section_map: SectionMap, rules: LexiconRules | None
) -> LabelDecision:
    label, section = section_map.decide(sections, outlet)
    if label is not None:
        return LabelDecision(label, "section", section)
    if rules is not None:
        ruled = rules.decide(title, text)
        if ruled is not None:
            return LabelDecision(ruled, "rule", section)
    return LabelDecision(None, "none", section)
