"""Source-specific repairs of raw article bodies before the shared cleaning in ``service.text``.

Everything that applies to any article (mojibake, datelines, broken lines, headline lists,
furniture) lives in ``service.text.clean_text`` and runs in serving too; only repairs of one
scrape's own damage stay here.
"""

from __future__ import annotations

import re

from service.text import clean_text, cut_text, fix_mojibake

_JOINED_PARAGRAPH = re.compile(r"([.!?…][\"”’]?)\s?,+(?=\S)")


def repair_joined_paragraphs(text: str) -> str:
    """CLICK-ID joined paragraphs as ``end.,Next``: restore the line breaks."""
    text = _JOINED_PARAGRAPH.sub(r"\1\n", text)
    return re.sub(r"\s*,(?:\s*,)+", ",", text)


def clean_body(text: str, repair_paragraphs: bool = False, max_chars: int | None = None) -> str:
    """A training body: the source's own repair, then the service's length cap and cleaning (as served)."""
    if repair_paragraphs:
        text = repair_joined_paragraphs(fix_mojibake(text))
    return clean_text(cut_text(text, max_chars) if max_chars else text)
