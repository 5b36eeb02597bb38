"""The analyzer API: topics and a summary per article, the two models on one backbone in memory.

    from service import Analyzer
    analyzer = Analyzer.load()
    analyzer.analyze([{"id": "1", "title": "…", "text": "…"}])

Every result is a plain dataclass; ``to_dict()`` is exactly the CLI's JSON line.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from service.backbone.artifacts import digest_files
from service.backbone.resolve import BackboneError
from service.config import DEFAULT_SERVICE_CONFIG, load_labels, load_settings, project_path
from service.engines.backend import EngineChoice, inference_precision, requested_backend, requested_precision
from service.engines.measure import choose_engine
from service.models.onnx import GRAPH_ENGINES, OnnxBuildError, load_onnx_models
from service.models.summaries.summarizer import Summarizer, SummarySentence, check_ratio, shared_topic_layers
from service.models.topics.classifier import TopicClassifier, TopicScore
from service.text import (
    clean_text,
    clean_title,
    cut_text,
    indonesian_score,
    looks_like_html,
    map_spans,
    stray_characters,
    strip_html,
    title_and_body,
)

logger = logging.getLogger(__name__)


BINARY_SHARE = 0.05  # above this share of control/undecodable characters an input is binary, not text


class InputError(ValueError):
    """An article that cannot be analysed; the message is meant for the user."""


class LoadError(RuntimeError):
    """The models cannot be loaded (a missing model or backbone, a broken setting); one line for the user."""


@dataclass
class AnalysisResult:
    """One article's topics and summary (``error`` set instead when it could not be analysed)."""

    id: str | None
    topic: str | None = None
    topics: list[TopicScore] = field(default_factory=list)
    summary: str = ""
    summary_sentences: list[SummarySentence] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    # Not part of the CLI line: the labels above the calibrated threshold and the cleaned text the models
    # read (``summary_sentences`` offsets index the caller's text, not this one).
    selected_topics: list[str] = field(default_factory=list)
    text: str = ""

    def to_dict(self) -> dict:
        """The CLI line: ``{id, error}``, or ``{id, topic, topics, summary, summary_sentences, warnings}``."""
        if self.error is not None:
            return {"id": self.id, "error": self.error}
        data = asdict(self)
        return {key: data[key] for key in ("id", "topic", "topics", "summary", "summary_sentences", "warnings")}


@dataclass
class PreparedArticle:
    id: str | None
    title: str
    text: str  # cleaned: what the models read
    warnings: list[str]
    original: str = ""  # the caller's text, which summary offsets index


def prepare_article(
    text, title=None, article_id=None, max_chars: int = 100_000, min_words: int = 20, min_indonesian: float = 0.05
) -> PreparedArticle:
    """Validate and clean one input; raises ``InputError`` with a clear message when unusable."""
    article_id = None if article_id is None else str(article_id)
    if text is None:
        raise InputError("missing 'text'")
    if not isinstance(text, str):
        raise InputError(f"'text' must be a string, got {type(text).__name__}")
    if title is not None and not isinstance(title, str):
        raise InputError(f"'title' must be a string, got {type(title).__name__}")
    warnings, original = [], text
    stray = stray_characters(text)
    if stray > BINARY_SHARE * len(text):
        raise InputError(
            f"the text looks like binary data, not an article ({stray:,} of {len(text):,} characters are "
            "control characters or bytes that are not text)"
        )
    if stray:
        warnings.append(f"{stray} stray control or undecodable character(s) removed")
    if looks_like_html(text):
        text = strip_html(text)
        warnings.append("HTML tags were removed")
    if len(text) > max_chars:
        text = cut_text(text, max_chars)
        warnings.append(f"text longer than {max_chars:,} characters; only the first {len(text):,} were analysed")
    text, title = clean_text(text), clean_title(title)
    if not text:
        raise InputError("the text is empty")
    words = len(text.split())
    if words < min_words:
        warnings.append(f"very short text ({words} words): topics are unreliable below {min_words} words")
    if words >= 5 and indonesian_score(f"{title} {text}") < min_indonesian:
        warnings.append("the text does not look like Indonesian; topics and summary may be meaningless")
    return PreparedArticle(article_id, title, text, warnings, original)


def in_caller_text(article: PreparedArticle, sentences: list[SummarySentence]) -> list[SummarySentence]:
    """Summary sentences with ``start``/``end`` moved from the cleaned text to the text the caller passed."""
    spans = map_spans(article.original, article.text, [(s.start, s.end) for s in sentences])
    return [SummarySentence(s.index, start, end, s.text) for s, (start, end) in zip(sentences, spans, strict=True)]


def models_version(classifier_path: Path, summarizer_path: Path) -> str:
    """A short hash of the files both models answer from (weights, configs, lexical model): a retrained or
    replaced model gets a new version, a re-run evaluation does not."""
    digest = hashlib.sha256()
    digest_files(digest, classifier_path, TopicClassifier.FILES)
    digest_files(digest, summarizer_path, Summarizer.FILES)
    return digest.hexdigest()[:16]


@dataclass
class _Setup:
    """What ``Analyzer.load`` reads before it loads anything: settings, model directories, threads, models' version."""

    settings: dict
    config_path: Path
    dirs: tuple[Path, Path]
    given_dirs: tuple[str | None, str | None]  # as the caller named them (None: the config's)
    threads: int | None
    version: str

    @classmethod
    def read(cls, config_path=None, classifier_dir=None, summarizer_dir=None, threads=None) -> _Setup:
        config_path = Path(config_path or DEFAULT_SERVICE_CONFIG)
        settings = load_settings(config_path)
        dirs = (
            project_path(classifier_dir or settings["classifier_dir"]),
            project_path(summarizer_dir or settings["summarizer_dir"]),
        )
        given = tuple(str(d) if d else None for d in (classifier_dir, summarizer_dir))
        return cls(settings, config_path, dirs, given, threads or settings.get("threads"), models_version(*dirs))

    def request(self, backend: str | None = None) -> str:
        return requested_backend(self.settings.get("backend"), backend)

    def engine(self, backend: str | None = None, precision: str | None = None, again: bool = False) -> EngineChoice:
        parity = self.settings.get("parity_file")
        return choose_engine(
            self.request(backend),
            requested_precision(self.settings.get("precision"), precision),
            self.version,
            str(self.config_path),
            self.given_dirs,
            self.threads,
            self.settings.get("cache_dir"),
            project_path(parity) if parity else None,
            again,
        )


def engine_for(
    config_path: str | Path | None = None, backend: str | None = None, precision: str | None = None, again: bool = False
) -> EngineChoice:
    """The engine ``Analyzer.load`` with these arguments runs, and why, without loading the models (the engines
    are timed first when no choice is cached for this CPU, these packages and models; ``again``: time anew)."""
    return _Setup.read(config_path).engine(backend, precision, again)


def load_torch_models(
    classifier_dir: str | Path,
    summarizer_dir: str | Path,
    backbone: str | None = None,
    cache_dir: Path | None = None,
    batching: str = "length",
    precision: str | None = None,
) -> tuple[TopicClassifier, Summarizer]:
    """Both models run by PyTorch on one backbone in memory. A summariser trained on a topic encoder's states gets
    that encoder cut at its feature layer, so the two read one pass (``Summarizer.load`` refuses other layers)."""
    cut = shared_topic_layers(summarizer_dir, classifier_dir)
    classifier = TopicClassifier.load(
        classifier_dir, backbone, cache_dir, batching=batching, precision=precision, shared_layers=cut
    )
    shared = (classifier.backbone, classifier.tokenizer, classifier.resolved)
    summarizer = Summarizer.load(summarizer_dir, backbone, cache_dir, shared, batching=batching, precision=precision)
    return classifier, summarizer


class Analyzer:
    """Topic classifier + summariser sharing one backbone in memory; one encoder pass per article when both read
    the same lower layers, else (a topic encoder trained whole) the topic windows are a pass of their own.

    Safe to share between threads: model calls are serialised (the CPU is the bottleneck anyway).
    """

    def __init__(
        self,
        classifier: TopicClassifier,
        summarizer: Summarizer,
        settings: dict | None = None,
        backend: str = "torch-fp32",
        model_dirs: tuple[Path, Path] | None = None,
        engine_choice: EngineChoice | None = None,
        batching: str = "length",
        version: str | None = None,
    ):
        self.classifier, self.summarizer = classifier, summarizer
        self.model_dirs = model_dirs  # (classifier, summariser) artifact directories, when loaded from them
        self.settings = settings or {}
        self.backend = backend  # the engine that runs the encoder (``service.engines.backend.ENGINES``)
        self.engine_choice = engine_choice or EngineChoice(backend, "given")  # and why
        self.batching = batching  # how windows are batched (``service.engines.encoder.BATCHINGS``)
        if version is not None:
            self.version = version  # already hashed (to key the engine choice): not hashed again
        self.labels = load_labels()
        self.shared_pass = (
            classifier.n_lower == summarizer.config.feature_layer
            and classifier.config.max_length == summarizer.config.max_length
            and classifier.config.prefix == summarizer.config.prefix
        )
        if not self.shared_pass:  # e.g. a topic encoder trained whole: its windows are a pass of their own
            logger.info("the topic classifier and the summariser run separate encoder passes")
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        classifier_dir: str | Path | None = None,
        summarizer_dir: str | Path | None = None,
        config_path: str | Path | None = None,
        backend: str | None = None,
        threads: int | None = None,
        independent_batches: bool | None = None,
        batching: str | None = None,
        measure_again: bool = False,
        precision: str | None = None,
    ) -> Analyzer:
        """Both models as configured in ``config_path``; ``backend`` (auto, onnx, openvino, torch) overrides
        ``WARTA_BACKEND`` and the config's ``backend``, ``precision`` (auto, int8, fp32, bf16) ``WARTA_PRECISION``
        and the config's ``precision``; what is left ``auto`` is decided by measurement on this CPU, once
        (``engine_for``; ``measure_again`` measures anew). ``threads`` overrides the config's engine threads.

        ``independent_batches``: an article's result never depends on the articles batched with it (int8
        quantises activations per call; padding changes sums): batched across articles at fixed width on an
        engine measured batch-invariant, else each article alone (some throughput); the CLI, the app and
        ``service.distributed`` turn it on (exact resume, app = Ray = CLI). ``batching`` (``encoder.BATCHINGS``)
        sets it directly.

        Raises ``LoadError`` (one line saying what is missing or wrong) when the models cannot load."""
        try:
            return cls._load(
                classifier_dir, summarizer_dir, config_path, backend, precision, threads,
                bool(independent_batches), batching, measure_again,
            )  # fmt: skip
        except (OSError, KeyError, ValueError, yaml.YAMLError, BackboneError, OnnxBuildError) as error:
            message = f"missing setting {error}" if isinstance(error, KeyError) else str(error).splitlines()[0]
            raise LoadError(f"cannot load the models: {message}") from error

    @classmethod
    def _load(
        cls, classifier_dir, summarizer_dir, config_path, backend, precision, threads, independent, batching, again
    ) -> Analyzer:
        setup = _Setup.read(config_path, classifier_dir, summarizer_dir, threads)
        settings, dirs, threads = setup.settings, setup.dirs, setup.threads
        cache_dir, backbone = settings.get("cache_dir"), settings.get("backbone")
        choice = setup.engine(backend, precision, again)
        if batching is None:
            independent = independent or settings.get("independent_batches", False)
            batching = ("fixed" if choice.batch_invariant else "document") if independent else "length"
        engine = choice.engine
        if engine in GRAPH_ENGINES:
            try:
                classifier, summarizer = load_onnx_models(
                    *dirs, backbone, cache_dir, threads, batching, settings.get("topic_precision", "fp32"), engine
                )
                return cls(classifier, summarizer, settings, engine, dirs, choice, batching, setup.version)
            except OnnxBuildError as error:
                if setup.request(backend) != "auto":
                    raise
                logger.warning("%s; falling back to the PyTorch backend", error)
                engine = f"torch-{inference_precision()}"
                choice = EngineChoice(engine, f"fallback: {error}")
        torch_precision = engine.split("-")[1]  # the PyTorch layers keep the precision they load with
        classifier, summarizer = load_torch_models(*dirs, backbone, cache_dir, batching, torch_precision)
        return cls(classifier, summarizer, settings, engine, dirs, choice, batching, setup.version)

    @functools.cached_property
    def version(self) -> str:
        """What the models answer from (``models_version``; hashed on first use unless the load already did)."""
        return models_version(*self.model_dirs) if self.model_dirs else "unversioned"

    def _prepare_all(self, items) -> list[PreparedArticle | AnalysisResult]:
        limits = {k: self.settings[k] for k in ("max_chars", "min_words") if k in self.settings}
        prepared = []
        for item in items:
            if isinstance(item, str) or item is None:
                item = {"text": item}
            article_id = item.get("id") if isinstance(item, dict) else None
            try:
                if not isinstance(item, dict):
                    raise InputError(f"expected an object with 'text', got {type(item).__name__}")
                prepared.append(prepare_article(item.get("text"), item.get("title"), article_id, **limits))
            except InputError as error:
                prepared.append(AnalysisResult(id=None if article_id is None else str(article_id), error=str(error)))
        return prepared

    def analyze(
        self,
        items,
        max_sentences: int | None = 3,
        max_words: int | None = None,
        batch_size: int = 16,
        method: str = "supervised",
        with_summary: bool = True,
        ratio: float | None = None,
    ) -> list[AnalysisResult]:
        """Topics and summary for each item (a text, or a dict with ``text`` and optional ``id``, ``title``).

        Summary length: ``max_sentences``, or ``ratio`` (share of the article's sentences, 0 < r ≤ 1),
        capped by ``max_words`` when given.

        Bad items come back with ``error`` set; they never stop the others. Items are batched by
        length so padding wastes little compute.
        """
        check_ratio(ratio)
        prepared = self._prepare_all(items)
        good = sorted(
            (i for i, p in enumerate(prepared) if isinstance(p, PreparedArticle)), key=lambda i: len(prepared[i].text)
        )
        results: list[AnalysisResult | None] = [p if isinstance(p, AnalysisResult) else None for p in prepared]
        for start in range(0, len(good), batch_size):
            indices = good[start : start + batch_size]
            batch = self._analyze_batch(
                [prepared[i] for i in indices], max_sentences, max_words, method, with_summary, ratio
            )
            for index, result in zip(indices, batch, strict=True):
                results[index] = result
        return results

    def _analyze_batch(
        self, articles: list[PreparedArticle], max_sentences, max_words, method, with_summary, ratio=None
    ) -> list[AnalysisResult]:
        combined, body_starts = map(list, zip(*(title_and_body(a.title, a.text) for a in articles), strict=True))
        topic_windows = self.classifier.windows_read()  # topics read only the windows they pool
        with self._lock:
            read = topic_windows
            if with_summary and self.shared_pass:  # the windows both heads read (None: all of them)
                needs = (topic_windows, self.summarizer.config.max_windows)
                read = None if None in needs else max(needs)
            documents = self.classifier.encode(combined, max_windows=read)
            window_logits = self.classifier.logits_from_documents(documents, max_windows=topic_windows)
            summaries = (
                self.summarizer.summarize(
                    combined,
                    max_sentences,
                    max_words,
                    method,
                    documents=documents if self.shared_pass else None,
                    body_starts=body_starts,
                    ratio=ratio,
                )
                if with_summary
                else [None] * len(articles)
            )
        probabilities = self.classifier.probabilities(
            self.classifier.combine(combined, self.classifier.pool(window_logits))
        )
        results = []
        for article, probs, summary in zip(articles, probabilities, summaries, strict=True):
            prediction = self.classifier.prediction(probs)
            results.append(
                AnalysisResult(
                    id=article.id,
                    topic=prediction.topic,
                    topics=prediction.scores,
                    summary=summary.text if summary else "",
                    summary_sentences=in_caller_text(article, summary.sentences) if summary else [],
                    warnings=article.warnings + (summary.notes if summary else []),
                    selected_topics=prediction.topics,
                    text=article.text,
                )
            )
        return results

    def classify(self, items) -> list[AnalysisResult]:
        """Topics only (no summary)."""
        return self.analyze(items, with_summary=False)

    def summarize(
        self, items, max_sentences: int | None = 3, max_words: int | None = None, ratio: float | None = None
    ) -> list[AnalysisResult]:
        """Summaries (topics come free with the shared encoder pass)."""
        return self.analyze(items, max_sentences=max_sentences, max_words=max_words, ratio=ratio)
