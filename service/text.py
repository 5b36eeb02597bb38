"""Text handling shared by training and serving: cleaning and Indonesian sentence splitting.

Sentences are returned as spans into the text they came from, so the summary can
point at (and the UI highlight) the exact characters of the input.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Tokens that end with a period without ending the sentence: titles, degrees, ranks and
# address words, compared case-sensitively.
ABBREVIATIONS = frozenset(
    """
    dr Dr drg Drs Dra H Hj Prof Ir Ny Nn Tn Sdr Sdri Bpk Bp Yth St Kol Letkol Mayjen Brigjen Letjen
    Jend Jen Irjen Kombes Pol AKBP AKP Kapt Lettu Serda Serka Pratu Kopda Ipda Iptu Aiptu Bripka Brigpol
    No Nos Nomor Jl Jln Gg Kec Kel Kab Kp Ds Prov Rt Rw Km Kav Blok Rp
    Mr Mrs Ms vs Vol Hal hlm Tel Telp Fax Ext Dept Div Ket Ref Lamp Sen Gub Wagub Pemkab Pemkot
    Jan Feb Mar Apr Jun Jul Agu Agt Ags Sep Sept Okt Nov Des M SH MH MM SE MA MT MBA SKom SSos
    """.split()
)
# Not listed: "dll.", "dsb.", "dst.", "Tbk." and the like often close a sentence, so they
# are ordinary words: a boundary only follows them when the next word is capitalised.
_DOTTED = re.compile(r"^(?:[A-Za-z]{1,4}\.)+[A-Za-z]{1,4}$")  # S.Pd, M.Si, Ph.D, s.d, B.J
_CANDIDATE = re.compile(r"(?:\.{2,}|…|[.!?])+[\"”’'»)\]]*(?=\s)")
_OPENERS = "\"“‘'«([–—-•*"
_BULLET = re.compile(r"^\s*(?:[-•*▪◦–—]|\(?\d{1,3}[.)]|\(?[a-zA-Z][.)])\s+")


@dataclass(frozen=True)
class Sentence:
    """A sentence as the character span ``text[start:end]`` of the text it was split from."""

    start: int
    end: int
    text: str


def _last_token(text: str, end: int) -> str:
    start = end
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in '("“':
        start -= 1
    return text[start:end]


def _is_abbreviation(token: str) -> bool:
    core = token.rstrip(".")
    if core in ABBREVIATIONS:
        return True
    if len(core) == 1 and core.isalpha() and core.isupper():
        return True  # an initial: "B. J. Habibie", "M. Yamin"
    return bool(_DOTTED.match(core))  # S.Pd., M.Si., B.J.


def _line_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split one line (no newlines) into sentence spans."""
    spans, sentence_start = [], start
    line = text[start:end]
    for match in _CANDIDATE.finditer(line):
        boundary = start + match.end()
        rest = line[match.end() :].lstrip()
        if not rest:
            continue
        next_char = rest[0]
        if next_char in _OPENERS and len(rest) > 1:
            next_char = rest[1] if rest[1] not in " \t" else next_char
        if not (next_char.isupper() or next_char.isdigit() or next_char in _OPENERS):
            continue
        terminator = match.group(0)
        if terminator.startswith(".") and not terminator.startswith(".."):
            token = _last_token(text, start + match.start())
            if _is_abbreviation(token):
                continue
            prefix = text[sentence_start : start + match.start()].strip()
            if prefix and (prefix.isdigit() or re.fullmatch(r"[a-zA-Z]", prefix)):
                continue  # a list marker such as "1." or "a." opening the line
        spans.append((sentence_start, boundary))
        sentence_start = boundary
    spans.append((sentence_start, end))
    return spans


def split_sentences(text: str) -> list[Sentence]:
    """Split Indonesian text into sentences; every line break also ends a sentence."""
    sentences: list[Sentence] = []
    position = 0
    for line in text.split("\n"):
        line_end = position + len(line)
        for start, end in _line_spans(text, position, line_end):
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start and any(ch.isalnum() for ch in text[start:end]):
                sentences.append(Sentence(start, end, text[start:end]))
        position = line_end + 1
    return sentences


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def normalize_whitespace(text: str) -> str:
    """NFC, no control or zero-width characters, single spaces, at most one blank line."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


BOILERPLATE_LINE = re.compile(
    r"""^\s*(?:
        baca\s+(?:juga|selengkapnya|berita)\b.*
      | lihat\s+juga\b.*
      | simak\s+(?:juga\s+)?(?:video|berita|artikel)\b.*
      | tonton\s+(?:juga\s+)?video\b.*
      | (?:advertisement\s+)?scroll\s+to\s+continue\s+with\s+content
      | advertisement | iklan | advertorial | sponsored(?:\s+content)?
      | ikuti\b.*\b(?:google\s+news|whatsapp|channel|instagram|twitter|tiktok|facebook)\b.*
      | dapatkan\s+(?:update|berita|informasi)\b.*
      | (?:artikel|berita)\s+ini\s+(?:telah|sudah)\s+(?:tayang|terbit|dipublikasikan)\b.*
      | (?:editor|penulis|reporter|pewarta|sumber|foto|video)\s*:.*
      | \(\s*[a-z]{2,5}\s*/\s*[a-z]{2,5}\s*\)
      | [-–—_=*•]{3,}
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_READ_ALSO = re.compile(r"(?:Baca|BACA)\s+(?:[Jj]uga|JUGA)\s*:?[ \t]*")
_SCRIPT_OR_MARKUP = re.compile(
    r"googletag\.cmd\.push\(function\(\)\s*\{[^}]*\}\);?"  # ad-slot JavaScript left in scraped text
    r"|\[bacajuga:[^\]]*\]\([^)]*\),?"  # Liputan6's "[bacajuga:Baca Juga](ids)" markup
)
_TITLE_CONNECTORS = frozenset(
    "di ke dan yang untuk dalam dari atau pada oleh dengan jadi soal usai vs hingga ini itu tak bisa akan "
    "tidak bagi sebagai jelang saat lagi sudah masih belum juga kata ada".split()
)
_GLUED = re.compile(r"(?<=[a-z0-9)])(?=[A-Z][a-z])")  # "GazaMedia": headline glued to the next sentence


def _join(head: str, tail: str) -> str:
    if head and tail and not head[-1].isspace() and not tail[0].isspace():
        return head + " " + tail
    return head + tail


def _drop_read_also_headline(text: str, start: int) -> tuple[str, int]:
    """Remove the headline after an inline "Baca juga:": its run of Title Case words."""
    position = start
    while position < len(text) and text[position] not in '\n"“':
        match = re.match(r"\S+\s*", text[position:])
        if not match:
            break
        word = match.group(0).strip()
        bare = word.strip(",.:;!?()'’‘")
        if not bare:
            position += match.end()
            continue
        glued = _GLUED.search(bare)
        if glued and bare[0].isupper():
            # Keep what follows the glue point: it is the next sentence's first word.
            return _join(text[:start], text[position + word.index(bare) + glued.start() :]), start
        if bare[0].isupper() or bare[0].isdigit() or bare.lower() in _TITLE_CONNECTORS:
            position += match.end()
            continue
        break
    return _join(text[:start], text[position:]), start


def strip_boilerplate(text: str) -> str:
    """Drop publisher furniture: "Baca juga …", ads, follow-us lines, credits."""
    text = _SCRIPT_OR_MARKUP.sub(" ", text)
    kept = [line for line in text.split("\n") if not BOILERPLATE_LINE.match(line)]
    text = "\n".join(kept)
    search_from = 0
    while match := _READ_ALSO.search(text, search_from):
        text, search_from = _drop_read_also_headline(text[: match.start()] + text[match.end() :], match.start())
    return re.sub(r"[ \t]{2,}", " ", text)


_TAG = re.compile(r"<[^>]{0,2000}>")
_BLOCK_TAG = re.compile(r"</?(?:p|div|br|li|h[1-6]|tr|section|article|blockquote)\b[^>]*>", re.IGNORECASE)
_SCRIPT = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def looks_like_html(text: str) -> bool:
    return bool(re.search(r"<(?:p|div|br|span|a|html|body|script|li|h[1-6])\b[^>]*>", text, re.IGNORECASE))


def strip_html(text: str) -> str:
    """Visible text of an HTML fragment: scripts dropped, block tags as line breaks, entities decoded."""
    import html

    text = _SCRIPT.sub(" ", text)
    text = _BLOCK_TAG.sub("\n", text)
    return html.unescape(_TAG.sub("", text))


# Frequent Indonesian function words; news prose has many of them, other languages almost none.
_INDONESIAN_WORDS = frozenset(
    "yang dan di ke dari untuk dengan ini itu pada dalam tidak akan ada juga oleh sebagai karena atau "
    "bahwa tersebut adalah telah sudah saat kata para lebih bisa namun hingga agar serta masih tak".split()
)


def indonesian_score(text: str) -> float:
    """Share of words that are common Indonesian function words (news prose: roughly 0.15-0.30)."""
    words = re.findall(r"[a-zA-Z]+", text.lower())
    if not words:
        return 0.0
    return sum(w in _INDONESIAN_WORDS for w in words) / len(words)
