"""Repair scraping artefacts in raw article bodies (training-side; generic cleaning is in service.text)."""

from __future__ import annotations

import re

from service.text import normalize_whitespace, strip_boilerplate

# UTF-8 bytes that were decoded as Mac Roman, e.g. "‚Äì" for "–" and "¬†" for a no-break space.
_MOJIBAKE_RUN = re.compile(r"[\u00a0-\u02ff\u2013-\u2044\u2122\u2202-\u25ca\uf8ff\ufb01\ufb02]{2,}")
_JOINED_PARAGRAPH = re.compile(r"([.!?…][\"”’]?)\s?,+(?=\S)")
_DATELINE = re.compile(r"^(?P<head>[^\n]{0,100}?)(?:\s[-–—]+\s?|[-–—]+\s|^[-–—]+\s?)")
_OUTLET_PREFIX = re.compile(r"^[\w.]+\.(?:com|co\.id|co|id|net)\s*,\s*", re.IGNORECASE)
_MISSING_SPACE_AFTER_STOP = re.compile(r"(?<=[a-z]{2})([.!?])(?=[A-Z][a-z])")
_MISSING_SPACE_AFTER_COMMA = re.compile(r"(?<=[a-z]{2}),(?=[A-Za-z]{2})")
_CONTINUATION_LINE = re.compile(r"\n+(?=[a-z])")  # a line starting in lower case continues the last


def fix_mojibake(text: str) -> str:
    def redecode(match: re.Match) -> str:
        try:
            return match.group(0).encode("mac_roman").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return match.group(0)

    return _MOJIBAKE_RUN.sub(redecode, text)


def repair_joined_paragraphs(text: str) -> str:
    """CLICK-ID joined paragraphs as ``end.,Next``: restore the line breaks."""
    text = _JOINED_PARAGRAPH.sub(r"\1\n", text)
    return re.sub(r"\s*,(?:\s*,)+", ",", text)


def strip_dateline(text: str) -> str:
    """Drop a leading dateline such as ``JAKARTA, KOMPAS.com -`` or ``Liputan6.com, Jakarta -``.

    Datelines name the outlet and city; left in, a classifier learns the outlet instead of the topic.
    """
    match = _DATELINE.match(text)
    if match:
        head = match.group("head").strip(" ,")
        words = head.split()
        looks_like_dateline = (
            not words
            or re.search(r"\w\.(?:com|co|id|net)\b", head, re.IGNORECASE)
            or all(w.strip(",").isupper() for w in words)
            or (len(words) <= 2 and all(w[0].isupper() for w in words))
        )
        if looks_like_dateline and len(words) <= 8 and not re.search(r"[.!?]\s", head):
            return text[match.end() :].lstrip(" ,\n")
    prefix = _OUTLET_PREFIX.match(text)
    if prefix:
        rest = text[prefix.end() :]
        city = re.match(r"[A-Z][a-z]+(?=[A-Z][a-z])", rest)  # "JakartaKita": city glued to the lead
        return rest[city.end() :] if city else rest
    return text


def clean_body(text: str, repair_paragraphs: bool = False, max_chars: int | None = None) -> str:
    """Cleaned article body: repaired encoding and paragraphs, no dateline or boilerplate."""
    text = fix_mojibake(text)
    if repair_paragraphs:
        text = repair_joined_paragraphs(text)
    text = normalize_whitespace(text)
    text = _CONTINUATION_LINE.sub(" ", text)
    text = strip_dateline(text)
    text = strip_boilerplate(text)
    text = _MISSING_SPACE_AFTER_STOP.sub(r"\1 ", text)
    text = _MISSING_SPACE_AFTER_COMMA.sub(", ", text)
    text = normalize_whitespace(text)
    if max_chars and len(text) > max_chars:
        cut = text.rfind("\n", 0, max_chars)
        text = text[: cut if cut > max_chars // 2 else max_chars].rstrip()
    return text


def clean_title(title: str) -> str:
    return normalize_whitespace(fix_mojibake(title)).replace("\n", " ")
