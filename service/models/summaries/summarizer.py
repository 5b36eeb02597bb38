"""Extractive summaries: score sentences, pick with redundancy control, return them in article order.

Three methods share one interface: ``supervised`` (a small sentence scorer trained on IndoSum over
the backbone's lower-layer token states, pooled per sentence), ``centroid`` (sentences closest to
the document centroid, no trained head) and ``lead`` (the first k sentences).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from service.backbone.artifacts import (
    ARTIFACT_FILES,
    encoder_digest,
    load_trained_backbone,
    load_weights,
    read_config,
    save_artifact,
)
from service.backbone.resolve import BackboneError
from service.engines.encoder import EncodedDocument, LowerLayers, encode_documents, sentence_vectors
from service.models.summaries.features import (
    MIN_SUMMARY_WORDS,
    WORD,
    SummarizerConfig,
    sentence_features,
    with_read_flag,
)
from service.text import Sentence, is_heading, split_sentences

METHODS = ("supervised", "centroid", "lead")


@dataclass
class SummarySentence:
    """A selected sentence: its index among the article's sentences and its span (``start``, ``end``) in the
    text summarised; the ``Analyzer`` moves the span into the text its caller passed."""

    index: int
    start: int
    end: int
    text: str


@dataclass
class Summary:
    text: str
    sentences: list[SummarySentence]
    method: str
    notes: list[str] = field(default_factory=list)


def is_summary_sentence(text: str, sentence: Sentence) -> bool:
    """May this sentence stand in a summary? Not a fragment of three words or fewer, not a heading
    or a list lead-in ("Syarat Pemutihan Pajak", "Cara Ikut Lelang:") on a line of its own."""
    if len(WORD.findall(sentence.text)) < MIN_SUMMARY_WORDS:
        return False
    whole_line = (sentence.start == 0 or text[sentence.start - 1] == "\n") and (
        sentence.end == len(text) or text[sentence.end] == "\n"
    )
    return not (whole_line and (is_heading(sentence.text) or sentence.text.rstrip().endswith(":")))


def check_ratio(ratio: float | None) -> None:
    """A summary ratio is a share of the article's sentences: above 0, at most 1."""
    if ratio is not None and not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1], the share of the article's sentences; got {ratio!r}")


def trigrams(text: str) -> set[tuple[str, ...]]:
    words = WORD.findall(text.lower())
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


def select(
    scores: np.ndarray,
    sentences: list[Sentence],
    max_sentences: int | None = 3,
    max_words: int | None = None,
    block_trigrams: bool = True,
    eligible: list[bool] | None = None,
) -> list[int]:
    """Greedy by score among ``eligible`` sentences, skipping any that repeats a trigram of one
    already chosen (Paulus et al.)."""
    chosen, seen, words = [], set(), 0
    for index in np.argsort(-scores, kind="stable"):
        if eligible is not None and not eligible[index]:
            continue
        sentence_trigrams = trigrams(sentences[index].text)
        if block_trigrams and sentence_trigrams & seen:
            continue
        length = len(WORD.findall(sentences[index].text))
        if max_words is not None and chosen and words + length > max_words:
            continue
        chosen.append(int(index))
        seen |= sentence_trigrams
        words += length
        if max_sentences is not None and len(chosen) >= max_sentences:
            break
        if max_words is not None and words >= max_words:
            break
    return sorted(chosen)


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as ``torch.nn.functional.normalize``."""
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def centroid_scores(vectors: np.ndarray) -> np.ndarray:
    """Cosine of each sentence vector to the (normalised) mean of the normalised vectors."""
    normed = normalize(np.asarray(vectors, dtype=np.float32))
    return normed @ normalize(normed.mean(0))


def read_count(sentences: list[Sentence], doc: EncodedDocument, max_windows: int | None) -> int:
    """How many of ``sentences`` (in article order) lie wholly inside the first ``max_windows`` windows of
    ``doc``: all of them when the text fits in fewer (``doc`` may hold more windows, read for the topic head);
    at least one."""
    if max_windows is None or len(doc.windows) < max_windows:
        return len(sentences)
    last = max((end for spans in doc.offsets[:max_windows] for _, end in spans), default=0)
    return sum(s.end <= last for s in sentences) or min(1, len(sentences))


def first_windows(doc: EncodedDocument, max_windows: int | None) -> EncodedDocument:
    """``doc`` cut to its first ``max_windows`` windows (all when None)."""
    return EncodedDocument(doc.windows[:max_windows], doc.offsets[:max_windows], doc.states[:max_windows])


def rank_unread_last(scores: np.ndarray, count: int) -> np.ndarray:
    """Scores for ``count`` sentences from the scores of the first ``len(scores)``: the others (past the windows
    read) rank after all of them, in article order."""
    floor = float(scores.min()) if len(scores) else 0.0
    return np.concatenate([scores, floor - 1.0 - np.arange(count - len(scores), dtype=np.float32)]).astype(np.float32)


def choose(
    text: str,
    sentences: list[Sentence],
    scores: Callable[[], np.ndarray],
    max_sentences: int | None,
    max_words: int | None = None,
    ratio: float | None = None,
    block_trigrams: bool = True,
) -> tuple[list[int], list[str]]:
    """The summary's sentence indices and notes: eligible sentences only, within the length options.

    ``scores`` is called only when a choice is needed (not when nothing is eligible, nor when every
    eligible sentence fits the request).
    """
    eligible = [is_summary_sentence(text, s) for s in sentences]
    candidates = [i for i, ok in enumerate(eligible) if ok]
    budget = max(1, math.ceil(ratio * len(candidates))) if ratio is not None else max_sentences
    limit = budget if budget is not None else len(candidates)
    if not candidates:
        return [], ["no complete sentence to summarise (only headings or fragments)"] if sentences else []
    words = sum(len(WORD.findall(sentences[i].text)) for i in candidates)
    if len(candidates) <= limit and (max_words is None or words <= max_words):
        return candidates, ["text is not longer than the requested summary; returned whole"]
    return select(scores(), sentences, budget, max_words, block_trigrams, eligible), []


def shared_topic_layers(path: str | Path, classifier_dir: str | Path) -> int | None:
    """Where to cut the topic encoder in ``classifier_dir`` so its lower layers are the pass the summariser in
    ``path`` reads (``TopicClassifier.load(shared_layers=...)``): its ``feature_layer`` when it was trained on that
    encoder's states; None when it reads the frozen backbone's. Raises ``BackboneError`` when it was trained on
    another topic encoder's."""
    config = SummarizerConfig(**read_config(Path(path), "summariser"))
    if config.topic_encoder is None:
        return None
    check_topic_encoder(path, config, encoder_digest(classifier_dir))
    return config.feature_layer


def check_topic_encoder(path: str | Path, config: SummarizerConfig, topic_encoder: str | None) -> None:
    """Refuse lower layers other than those the summariser in ``path`` was trained on: the frozen backbone's
    (``config.topic_encoder`` None) or those of the topic encoder it names (``topic_encoder`` is the one given)."""
    if config.topic_encoder == topic_encoder:
        return
    if config.topic_encoder is None:
        raise BackboneError(
            f"The summariser in {path} was trained on the backbone's frozen layers, not on topic encoder "
            f"{topic_encoder}'s: retrain it (configs/summarizer.yaml: topic_encoder) or load it on its own."
        )
    raise BackboneError(
        f"The summariser in {path} reads the states of topic encoder {config.topic_encoder}, "
        + (f"but was given topic encoder {topic_encoder}'s" if topic_encoder else "but was given the frozen backbone's")
        + ": load it beside that topic classifier, or retrain it on this one "
        "(python -m training.train_summarizer --set topic_encoder=CLASSIFIER_DIR)."
    )


class Summarizer:
    """``Summarizer.load(path).summarize(texts, max_sentences=3)``; thread-safe.

    ``scorer`` is anything with ``scores(vectors, features, title) -> np.ndarray`` (the PyTorch
    ``service.models.summaries.scorer.SentenceScorer`` or an ONNX Runtime session); ``lower`` runs the encoder's
    lower layers when no shared pass is given. ``lead`` needs neither.
    """

    FILES = ARTIFACT_FILES  # the files the summariser answers from

    def __init__(
        self,
        tokenizer=None,
        scorer=None,
        config: SummarizerConfig | None = None,
        lower: LowerLayers | None = None,
        batching: str = "length",
    ):
        self.tokenizer, self.scorer, self.config, self.lower = tokenizer, scorer, config, lower
        self.batching = batching  # how windows are batched (``encoder.BATCHINGS``)
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        path: str | Path,
        backbone: str | None = None,
        cache_dir: Path | None = None,
        shared_backbone=None,
        batching: str = "length",
        precision: str | None = None,
    ) -> Summarizer:
        """The artifact in ``path`` on its backbone, run by PyTorch in ``precision`` (fp32 or bf16; None:
        ``inference_precision()``).

        A summariser trained on a topic encoder's states (``config.topic_encoder``) reads that encoder's lower
        layers: ``shared_backbone`` must then be the topic classifier's cut backbone (``TopicClassifier.load``
        with ``shared_layers``; ``service.analyzer.load_torch_models`` loads the pair)."""
        from service.models.summaries.scorer import build_scorer

        path = Path(path)
        config = SummarizerConfig(**read_config(path, "summariser"))
        model, tokenizer, _ = load_trained_backbone(
            path, "summariser", config.__dict__, backbone, cache_dir, shared_backbone
        )
        check_topic_encoder(path, config, getattr(model, "topic_encoder", None))
        scorer = load_weights(build_scorer(model.config.hidden_size, config), path)
        return cls.from_torch(model, tokenizer, scorer, config, batching, precision)

    @classmethod
    def from_torch(
        cls,
        backbone,
        tokenizer,
        scorer,
        config: SummarizerConfig,
        batching: str = "length",
        precision: str | None = None,
    ) -> Summarizer:
        """Run by PyTorch: the lower ``config.feature_layer`` layers of ``backbone`` (fewer if it has fewer)."""
        from service.engines.pytorch import encoder_layers, torch_lower

        n_lower = min(config.feature_layer, len(encoder_layers(backbone)))
        if scorer is not None:
            scorer.eval()
        return cls(tokenizer, scorer, config, torch_lower(backbone.eval(), n_lower, precision), batching)

    def save_pretrained(self, path: str | Path) -> None:
        save_artifact(path, self.scorer, self.config.__dict__)

    def encode(self, texts: list[str], batch_size: int = 32) -> list[EncodedDocument]:
        with self._lock:
            return encode_documents(
                self.lower,
                self.tokenizer,
                texts,
                self.config.max_length,
                self.config.prefix,
                batch_size,
                self.config.max_windows,
                batching=self.batching,
            )

    def inputs(
        self, text: str, sentences: list[Sentence], doc: EncodedDocument, body_start: int = 0, n_read: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The scorer's inputs for one article: sentence vectors, hand features, title vector. With
        ``all_sentences``, sentences past the first ``n_read`` (None: all read) get a zero vector and the read
        flag 0."""
        starts, ends = [s.start for s in sentences], [s.end for s in sentences]
        if body_start > 1:  # the title line is pooled like one more sentence
            starts, ends = [0, *starts], [body_start - 1, *ends]
        vectors = sentence_vectors(doc, starts, ends)
        title, vectors = (
            (vectors[0], vectors[1:]) if body_start > 1 else (np.zeros(vectors.shape[-1], np.float32), vectors)
        )
        features = sentence_features(text, sentences, body_start, self.config.lexical_features)
        if self.config.all_sentences:
            n_read = len(sentences) if n_read is None else n_read
            vectors[n_read:] = 0.0
            features = with_read_flag(features, n_read)
        return vectors, features, title

    def sentence_scores(
        self, text: str, sentences: list[Sentence], doc: EncodedDocument | None, method: str, body_start: int = 0
    ) -> np.ndarray:
        """A score per sentence of the article. Past the windows read, the scorer of ``all_sentences`` scores
        sentences by their hand features; otherwise (and for ``centroid``) they rank after the sentences read."""
        if method == "lead":
            return -np.arange(len(sentences), dtype=np.float32)
        n_read = read_count(sentences, doc, self.config.max_windows)
        doc = first_windows(doc, self.config.max_windows)
        if method == "supervised" and self.config.all_sentences:
            return self.scorer.scores(*self.inputs(text, sentences, doc, body_start, n_read))
        vectors, features, title = self.inputs(text, sentences[:n_read], doc, body_start)
        scores = centroid_scores(vectors) if method == "centroid" else self.scorer.scores(vectors, features, title)
        return rank_unread_last(scores, len(sentences))

    def summarize(
        self,
        texts: list[str],
        max_sentences: int | None = 3,
        max_words: int | None = None,
        method: str = "supervised",
        batch_size: int = 32,
        documents: list[EncodedDocument] | None = None,
        body_starts: list[int] | None = None,
        ratio: float | None = None,
    ) -> list[Summary]:
        """One summary per text.

        Length: ``max_sentences``, or with ``ratio`` that share of the article's sentences (rounded
        up, at least one; it replaces ``max_sentences``); ``max_words`` caps either. Headings and
        fragments of three words or fewer are never chosen. ``documents`` lets a caller share an
        encoder pass it already ran over ``texts``; with ``body_starts`` only ``text[body_start:]``
        is summarised (the title before it is context, as in training) and offsets refer to that body.
        """
        if method not in METHODS:
            raise ValueError(f"unknown summary method {method!r}; choose one of {', '.join(METHODS)}")
        check_ratio(ratio)
        if method == "supervised" and self.scorer is None:
            raise ValueError("this summariser has no trained scorer; use method='centroid' or 'lead'")
        body_starts = body_starts or [0] * len(texts)
        split = [split_body(text, b) for text, b in zip(texts, body_starts, strict=True)]
        needs_encoding = method != "lead"
        if needs_encoding and documents is None:
            documents = self.encode(texts, batch_size)
        out = []
        for index, (text, sentences) in enumerate(zip(texts, split, strict=True)):
            doc = documents[index] if needs_encoding else None
            chosen, notes = choose(
                text,
                sentences,
                lambda: self.sentence_scores(text, sentences, doc, method, body_starts[index]),  # noqa: B023
                max_sentences,
                max_words,
                ratio,
                self.blocks_trigrams(method),
            )
            shift = body_starts[index]
            picked = [
                SummarySentence(i, sentences[i].start - shift, sentences[i].end - shift, sentences[i].text)
                for i in chosen
            ]
            out.append(Summary(" ".join(s.text for s in picked), picked, method, notes))
        return out

    def blocks_trigrams(self, method: str) -> bool:
        """`lead` is the first sentences as they stand: no redundancy filter (trigram blocking made it
        skip a lead sentence repeating a name or phrase of an earlier one); `supervised` as trained."""
        if method == "lead":
            return False
        return self.config.block_trigrams if method == "supervised" and self.config else True


def split_body(text: str, body_start: int = 0) -> list[Sentence]:
    """The sentences of ``text[body_start:]`` as spans of ``text``."""
    return [Sentence(s.start + body_start, s.end + body_start, s.text) for s in split_sentences(text[body_start:])]
