"""Source-specific repairs of raw article bodies before the shared cleaning in ``service.text``.

Everything that applies to any article (mojibake, datelines, broken lines, headline lists,
furniture) lives in ``service.text.clean_text`` and runs in serving too; only repairs of one
scrape's own damage stay here.
"""

from __future__ import annotations

import re

from service.text import clean_text, fix_mojibake, normalize_whitespace

_JOINED_PARAGRAPH = re.compile(r"([.!?…][\"”’]?)\s?,+(?=\S)")


def repair_joined_paragraphs(text: str) -> str:
    """CLICK-ID joined paragraphs as ``end.,Next``: restore the line breaks."""
    text = _JOINED_PARAGRAPH.sub(r"\1\n", text)
    return re.sub(r"\s*,(?:\s*,)+", ",", text)


def clean_body(text: str, repair_paragraphs: bool = False, max_chars: int | None = None) -> str:
    """A training body: the source's own repair, then the service's cleaning, then a length cap."""
    if repair_paragraphs:
        text = repair_joined_paragraphs(fix_mojibake(text))
    text = clean_text(text)
    if max_chars and len(text) > max_chars:
        cut = text.rfind("\n", 0, max_chars)
        text = text[: cut if cut > max_chars // 2 else max_chars].rstrip()
    return text


def clean_title(title: str) -> str:
    return normalize_whitespace(fix_mojibake(title)).replace("\n", " ")
