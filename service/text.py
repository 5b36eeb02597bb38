"""Text handling shared by training and serving: cleaning and Indonesian sentence splitting.

Sentences are returned as spans into the text they came from, so the summary can
point at (and the UI highlight) the exact characters of the input.
"""

from __future__ import annotations

import bisect
import difflib
import itertools
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


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff\ufffd]")
_STRAY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def title_and_body(title: str | None, body: str) -> tuple[str, int]:
    """The text both models read (the title line, then the body) and where the body starts in it."""
    return (f"{title}\n{body}", len(title) + 1) if title else (body, 0)


def cut_text(text: str, max_chars: int) -> str:
    """At most ``max_chars`` characters, cut at the last line break in the second half if there is one.

    Training and serving both cut the raw text first and clean it after (``clean_text``): the cost
    of cleaning stays bounded on any input, and both read the same article."""
    if len(text) <= max_chars:
        return text
    cut = text.rfind("\n", 0, max_chars)
    return text[: cut if cut > max_chars // 2 else max_chars]


def clean_title(title: str | None) -> str:
    """A title on one line: HTML tags dropped, mojibake repaired, whitespace normalised."""
    if not title:
        return ""
    title = strip_html(title) if looks_like_html(title) else title
    return normalize_whitespace(fix_mojibake(title)).replace("\n", " ")


_WORD_SPAN = re.compile(r"\w+")
_CLOSING = set(".!?…,;:)]}>")


def _words(text: str, limit: int | None = None) -> list[re.Match]:
    return list(itertools.islice(_WORD_SPAN.finditer(text), limit))


def _blank_markup(text: str) -> str:
    """``text`` with scripts, styles and tags replaced by spaces of the same length (positions kept)."""
    blank = lambda match: " " * len(match.group(0))  # noqa: E731
    return _TAG.sub(blank, _SCRIPT.sub(blank, text))


def _word_map(source: list[str], target: list[str]) -> list[int | None]:
    """For each target word, the source word it came from (None when cleaning made it unrecognisable).

    Equal word lists (only spaces or line endings changed) map one to one at once; otherwise ``difflib``
    aligns them (junk heuristics on for long texts, so repeated tokens cannot make it quadratic). In a
    replaced stretch a word maps one to one when both sides are as long, else to a source word that
    contains it ("ÄúKami" holds "kami"), else nowhere."""
    if source[: len(target)] == target:
        return list(range(len(target)))
    matcher = difflib.SequenceMatcher(None, source, target, autojunk=len(target) > 3000)
    mapped: list[int | None] = [None] * len(target)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for j in range(j1, j2):
                mapped[j] = i1 + j - j1
        elif tag == "replace":
            at = i1
            for j in range(j1, j2):
                found = next((i for i in range(at, i2) if target[j] in source[i]), None)
                if found is not None:
                    mapped[j], at = found, found + 1
    return mapped


def map_spans(original: str, cleaned: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans of ``cleaned`` (what ``clean_text`` made of ``original``) as spans of ``original``.

    The two texts are aligned word by word (case-insensitive; tags and scripts of an HTML original are
    blanked first): a span starts at its first word in ``original`` (an opening quote before it comes
    along) and ends after its last word and the punctuation that follows it there, so
    ``original[start:end]`` holds the same words, never cut mid-word, whatever cleaning changed around
    them (line endings, spaces, HTML tags, mojibake, a dateline). Spans come back in order and never
    overlap; a span none of whose words can be found in ``original`` comes back as (0, 0)."""
    if original == cleaned or not spans:
        return list(spans)
    target = _words(cleaned)
    markup_free = _blank_markup(original) if looks_like_html(original) else original
    source = _words(markup_free, 3 * len(target) + 2000)  # the cleaned text comes from a prefix of the original
    mapped = _word_map([w.group().lower() for w in source], [w.group().lower() for w in target])
    starts = [w.start() for w in target]
    out, floor = [], 0
    for start, end in spans:
        inside = [mapped[j] for j in range(bisect.bisect_left(starts, start), bisect.bisect_left(starts, end))]
        found = [i for i in inside if i is not None and source[i].start() >= floor]
        if not found:
            out.append((0, 0))
            continue
        begin, stop = source[min(found)].start(), source[max(found)].end()
        while begin > floor and not original[begin - 1].isspace() and not original[begin - 1].isalnum():
            if original[begin - 1] in _CLOSING:  # the end of what comes before (a stop, a tag)
                break
            begin -= 1
        while stop < len(original) and not original[stop].isspace() and not original[stop].isalnum():
            if original[stop] == "<":  # a tag after the sentence is not part of it
                break
            stop += 1
        out.append((begin, stop))
        floor = stop
    return out


def stray_characters(text: str) -> int:
    """Control characters (tabs and line breaks aside) and U+FFFD (bytes that were not valid text):
    a few come with text copied from PDFs; binary data is mostly made of them."""
    return len(_STRAY.findall(text))


def normalize_whitespace(text: str) -> str:
    """NFC, no control, zero-width or replacement characters, single spaces, at most one blank line."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


_CREDIT_PATTERN = r"\(\s*[a-z]{2,5}\s*/\s*[a-z]{2,5}\s*\)"  # "(fbr/wes)": the desk's initials end the story
BOILERPLATE_LINE = re.compile(
    r"""^\s*(?:
        baca\s+(?:juga|selengkapnya|berita)\b.*
      | lihat\s+juga\b.*
      | simak\s+(?:juga\b|video|berita|artikel)\b.*
      | baca\s*:.*
      | .{0,120}\((?:foto|ilustrasi|dok\.?|sumber\s+foto)\s*:[^)]*\)
      | tonton\s+(?:juga\s+)?video\b.*
      | (?:advertisement\s+)?scroll\s+to\s+continue\s+with\s+content
      | advertisement | iklan | advertorial | sponsored(?:\s+content)?
      | ikuti\b.*\b(?:google\s+news|whatsapp|channel|instagram|twitter|tiktok|facebook)\b.*
      | dapatkan\s+(?:update|berita|informasi)\b.*
      | (?:artikel|berita)\s+ini\s+(?:telah|sudah)\s+(?:tayang|terbit|dipublikasikan)\b.*
      | (?:editor|penulis|reporter|pewarta|sumber|foto|video)\s*:.*
      | """
    + _CREDIT_PATTERN
    + r"""
      | \[gambas:[^\]]*\]
      | saksikan\s+(?:juga\s+)?(?:live|video|pembahasan|selengkapnya)\b.*
      | [-–—_=*•]{3,}
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_READ_ALSO = re.compile(
    r"(?:Baca|BACA)\s+(?:[Jj]uga|JUGA)\s*:?[ \t]*"
    r"|(?:Simak|SIMAK)\s+(?:[Jj]uga|JUGA)\s*[:–-][ \t]*"
    r"|(?:Baca|BACA)\s*:[ \t]*"
)
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
        match = re.match(r"\S+[ \t]*", text[position:])  # a headline ends at the line end
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


# --- Whole-article cleaning: one function for training and serving alike -------------------------

# UTF-8 bytes that were decoded as Mac Roman, e.g. "‚Äì" for "–" and "¬†" for a no-break space.
_MOJIBAKE_RUN = re.compile(r"[\u00a0-\u02ff\u2013-\u2044\u2122\u2202-\u25ca\uf8ff\ufb01\ufb02]{2,}")
_DATELINE = re.compile(r"^(?P<head>[^\n]{0,100}?)(?:\s[-–—]+\s?|[-–—]+\s|^[-–—]+\s?)")
_OUTLET_PREFIX = re.compile(r"^[\w.]+\.(?:com|co\.id|co|id|net)\s*,\s*", re.IGNORECASE)
_MISSING_SPACE_AFTER_STOP = re.compile(r"(?<=[a-z]{2})([.!?])(?=[A-Z][a-z])")
_MISSING_SPACE_AFTER_COMMA = re.compile(r"(?<=[a-z]{2}),(?=[A-Za-z]{2})")
_CREDIT = re.compile("^" + _CREDIT_PATTERN)
_SENTENCE_END = re.compile(r"[.!?…][\"”’'»)\]]*$")
_LIST_INTRO_END = re.compile(r"[:;][\"”’'»)\]]*$")
_RELATED_HEADING = re.compile(  # a line that only announces other articles: "Baca juga:", "Berita terkait"
    r"^(?:baca\s+(?:juga|selengkapnya)|berita\s+(?:terkait|lainnya)|artikel\s+terkait|lihat\s+juga)\s*:?$",
    re.IGNORECASE,
)
_TABLE_OF_CONTENTS = re.compile(r"^(?:daftar\s+isi|table\s+of\s+contents)\s*:?$", re.IGNORECASE)
TAIL_AFTER_CREDIT_MAX_WORDS = 60


def fix_mojibake(text: str) -> str:
    """Repair UTF-8 text that was decoded as Mac Roman somewhere on its way ("‚Äì" -> "–")."""

    def redecode(match: re.Match) -> str:
        try:
            return match.group(0).encode("mac_roman").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return match.group(0)

    return _MOJIBAKE_RUN.sub(redecode, text)


def strip_dateline(text: str) -> str:
    """Drop a leading dateline such as ``JAKARTA, KOMPAS.com -`` or ``Liputan6.com, Jakarta -``.

    Datelines name the outlet and city; left in, a classifier learns the outlet instead of the
    topic and a summary opens with "Jakarta".
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


def ends_sentence(line: str) -> bool:
    """The line ends with a full stop, question or exclamation mark (closing quotes allowed)."""
    return bool(_SENTENCE_END.search(line.rstrip()))


def is_title_case(line: str, share: float = 0.75) -> bool:
    """Most words that are not short connectors start with a capital or a digit ("Wali Kota Malang …")."""
    words = [w.strip("\"“”‘’'()[],:;!?-–—•*") for w in line.split()]
    words = [w for w in words if w and w.lower() not in _TITLE_CONNECTORS]
    if not words:
        return False
    return sum(w[0].isupper() or w[0].isdigit() for w in words) >= share * len(words)


def is_heading(line: str, max_words: int = 15) -> bool:
    """A line that names a section or another article rather than saying something: short, Title
    Case, no sentence-final punctuation ("Syarat Pemutihan Pajak", "Cara Ikut Lelang:")."""
    line = _BULLET.sub("", line).strip()
    return bool(line) and len(line.split()) <= max_words and not ends_sentence(line) and is_title_case(line)


def _is_headline_line(line: str) -> bool:
    """``- Pemkab Jombang Ajak Masyarakat Berantas Rokok Ilegal``: a bullet, Title Case, no final stop."""
    return bool(re.match(r"^\s*[-•*▪◦–—]\s+", line)) and is_heading(line, max_words=25)


def drop_headline_lists(lines: list[str]) -> list[str]:
    """Remove runs of bulleted headlines of other articles; keep a list the text introduces with a colon.

    A run is kept when the line before it ends with ":" or ";" (a list of measures inside the text)
    unless that line is itself a related-articles heading ("Baca juga:", "Berita terkait:").
    """
    out: list[str] = []
    index = 0
    while index < len(lines):
        if _RELATED_HEADING.match(lines[index].strip()):
            index += 1  # "Baca juga:" on its own line: the headline under it goes with it
            while index < len(lines) and not lines[index].strip():
                index += 1
            if index < len(lines) and is_title_case(lines[index]) and len(lines[index].split()) <= 25:
                index += 1
            continue
        if not _is_headline_line(lines[index]):
            out.append(lines[index])
            index += 1
            continue
        end = index
        while end < len(lines) and _is_headline_line(lines[end]):
            end += 1
        before = next((i for i in range(len(out) - 1, -1, -1) if out[i].strip()), None)
        heading = before is not None and bool(_RELATED_HEADING.match(out[before].strip()))
        if heading:
            del out[before]  # the "Berita terkait:" heading goes with its list
        elif before is not None and _LIST_INTRO_END.search(out[before]):
            out.extend(lines[index:end])  # a list the text introduces: content
        index = end
    return out


def drop_table_of_contents(lines: list[str]) -> list[str]:
    """Remove a "Daftar Isi" line and the run of section headings listed under it."""
    out: list[str] = []
    index = 0
    while index < len(lines):
        if _TABLE_OF_CONTENTS.match(lines[index].strip()):
            index += 1
            while index < len(lines) and (is_heading(lines[index]) or not lines[index].strip()):
                index += 1
            continue
        out.append(lines[index])
        index += 1
    return out


def drop_tail_after_credit(lines: list[str]) -> list[str]:
    """Cut at the desk credit ``(fbr/wes)`` when only tags and promotions follow it."""
    for index in range(len(lines) - 1, -1, -1):
        if _CREDIT.match(lines[index].strip()):
            if sum(len(line.split()) for line in lines[index + 1 :]) <= TAIL_AFTER_CREDIT_MAX_WORDS:
                return lines[:index]
            break
    return lines


def _continues(previous: str, line: str) -> bool:
    """Whether ``line`` is the rest of the sentence ``previous`` started (a link or name cut out of it)."""
    if not previous.strip() or not line.strip():
        return False
    if line[0].islower():
        return True  # a line starting in lower case continues the last
    if ends_sentence(previous) or _LIST_INTRO_END.search(previous):
        return False
    if line[0] in ",.;:!?)":
        return True
    if _BULLET.match(line) or _BULLET.match(previous):
        return False
    if line[0] in "\"“‘'":
        return False  # a quotation opens a new paragraph
    if previous.rstrip().endswith(",") or previous.split()[-1].strip("\"“”'")[:1].islower():
        return True  # "Dikutip dari" + "SurinEnglish.com pada Minggu …"
    return not is_heading(previous) and len(previous.split()) >= 6  # a sentence under way


def _short_name(line: str) -> bool:
    return 0 < len(line.split()) <= 3 and is_heading(line)


def reflow_lines(lines: list[str]) -> list[str]:
    """Join lines that a scraper broke out of one sentence (link texts on their own lines)."""
    out: list[str] = []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        # "Pemerintah Kota" + "Malang" + "menggelar …": two link texts opening one sentence
        names = (
            bool(out)
            and _short_name(out[-1])
            and _short_name(line)
            and (following[:1].islower() or following[:1] in ",.;:")
        )
        if out and (names or _continues(out[-1], line)):
            glue = "" if line[:1] in ",.;:!?)" else " "
            out[-1] = out[-1].rstrip() + glue + line.lstrip()
        else:
            out.append(line)
    return out


def clean_text(text: str) -> str:
    """Everything that makes a scraped article body clean, for training and serving alike.

    Repairs mojibake and whitespace; drops the desk credit and the tags after it, tables of
    contents, lists of other articles' headlines, publisher furniture and the dateline; joins
    lines a scraper broke out of one sentence; restores missing spaces after stops and commas.
    """
    text = normalize_whitespace(fix_mojibake(text))
    lines = drop_tail_after_credit(text.split("\n"))
    lines = drop_table_of_contents(lines)
    lines = drop_headline_lists(lines)
    text = strip_boilerplate("\n".join(lines))
    lines = reflow_lines(text.split("\n"))
    text = strip_dateline(normalize_whitespace("\n".join(lines)))
    text = _MISSING_SPACE_AFTER_STOP.sub(r"\1 ", text)
    text = _MISSING_SPACE_AFTER_COMMA.sub(", ", text)
    return normalize_whitespace(text)
