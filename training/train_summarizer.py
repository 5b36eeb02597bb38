"""Train the extractive sentence scorer on IndoSum.

    python -m training.train_summarizer --config configs/summarizer.yaml [--set KEY=VALUE ...]

Articles (title from the URL slug + cleaned body, exactly the text the service reads) run once
through the backbone's lower layers, the same pass the topic classifier uses; token states are
pooled per sentence and cached on disk, then a small inter-sentence transformer learns which
sentences make the summary. The checkpoint is chosen on validation ROUGE-1 of the served selection
(headings and fragments excluded, the configured redundancy filter). ``evaluate_summarizer --cv``
runs the same fitting on cross-validation folds.

Writes a fresh run directory, ``build/runs/RUN_NAME`` (``training.runs``; never ``models/``). Evaluate
it there (``training.evaluate_summarizer --cv --model build/runs/RUN_NAME``, then without ``--cv``),
then ship it with ``python -m training.promote RUN_NAME``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from rouge_score import rouge_scorer
from tqdm import tqdm

from service.backbone.artifacts import encoder_digest
from service.backbone.resolve import load_backbone
from service.engines.backend import inference_precision
from service.models.summaries.features import SummarizerConfig, feature_count, sentence_features, with_read_flag
from service.models.summaries.scorer import SentenceScorer, build_scorer
from service.models.summaries.summarizer import (
    Summarizer,
    choose,
    is_summary_sentence,
    read_count,
    split_body,
)
from service.models.topics.classifier import TopicClassifier
from service.text import Sentence, title_and_body
from training.config import config_from_args, project_path, write_training_outputs
from training.runs import RunDirError, prepare_run_dir, shown
from training.train_classifier import seed_everything

logger = logging.getLogger(__name__)

KIND = "summarizer"  # default run names: summarizer-YYYYMMDD-HHMMSS


@dataclass
class CachedArticle:
    """One article as the scorer sees it, encoded once."""

    id: str
    fold: int
    split: str
    text: str  # title line + body, as served
    body_start: int
    summary: str
    sentences: list[Sentence]
    eligible: list[bool]
    vectors: torch.Tensor
    features: torch.Tensor  # every hand feature (position + lexical); ``for_scorer`` picks the model's
    title: torch.Tensor
    n_read: int  # the first n_read sentences lie inside the windows read; with all_sentences the rest follow
    labels: torch.Tensor  # IndoSum's extractive labels carried over to our sentences


def summarizer_config(config: dict, resolved, n_lower: int, topic_encoder: str | None = None) -> SummarizerConfig:
    return SummarizerConfig(
        backbone=config["backbone"],
        backbone_fingerprint=resolved.fingerprint,
        feature_layer=n_lower,
        max_length=config["max_length"],
        prefix=resolved.passage_prefix,
        width=config["width"],
        layers=config["layers"],
        heads=config["heads"],
        lexical_features=config.get("lexical_features", False),
        similarity_features=config.get("similarity_features", False),
        block_trigrams=config.get("block_trigrams", True),
        max_windows=config.get("max_windows"),
        all_sentences=config.get("all_sentences", False),
        topic_encoder=topic_encoder,
    )


def encode_articles(summarizer: Summarizer, rows: list[dict], batch_size: int, desc: str) -> list[CachedArticle]:
    """Encode articles in chunks (bounded memory) and keep only what the scorer reads."""
    cached = []
    for start in tqdm(range(0, len(rows), 64), desc=desc, unit="64 articles"):
        chunk = rows[start : start + 64]
        texts = [title_and_body(r["title"], r["body"]) for r in chunk]
        docs = summarizer.encode([t for t, _ in texts], batch_size)
        for row, (text, body_start), doc in zip(chunk, texts, docs, strict=True):
            sentences = split_body(text, body_start)
            if [s.start - body_start for s in sentences] != list(row["sentence_starts"]):
                raise ValueError(f"article {row['id']}: sentence split differs from the corpus; rebuild the data")
            n_read = read_count(sentences, doc, summarizer.config.max_windows)
            if not summarizer.config.all_sentences:
                sentences = sentences[:n_read]  # as served: the scorer sees the sentences read
            vectors, _, title = map(torch.from_numpy, summarizer.inputs(text, sentences, doc, body_start, n_read))
            features = torch.from_numpy(sentence_features(text, sentences, body_start, lexical=True))  # all; sliced
            cached.append(
                CachedArticle(
                    id=row["id"],
                    fold=row["fold"],
                    split=row["split"],
                    text=text,
                    body_start=body_start,
                    summary=row["summary"],
                    sentences=sentences,
                    eligible=[is_summary_sentence(text, s) for s in sentences],
                    vectors=vectors,
                    features=features,
                    title=title,
                    n_read=n_read,
                    labels=torch.tensor(row["labels"][: len(sentences)], dtype=torch.float32),
                )
            )
    return cached


def _to_record(article: CachedArticle) -> dict:
    """Plain types only, so the cache loads whatever script wrote it (no pickled classes)."""
    record = {field.name: getattr(article, field.name) for field in fields(CachedArticle)}
    record["sentences"] = [(s.start, s.end, s.text) for s in article.sentences]
    return record


def _from_record(record: dict) -> CachedArticle:
    return CachedArticle(**(record | {"sentences": [Sentence(*s) for s in record["sentences"]]}))


def load_corpus(config: dict, summarizer: Summarizer) -> list[CachedArticle]:
    """Every IndoSum article encoded, from a disk cache keyed by the backbone, settings and data."""
    from datasets import concatenate_datasets, load_from_disk

    data = load_from_disk(str(project_path(config["data_dir"])))
    rows = list(concatenate_datasets([data["train"], data["validation"]]))
    if config.get("max_articles"):
        rows = rows[: config["max_articles"]]
    key = hashlib.sha1(
        json.dumps(
            [
                [
                    getattr(summarizer.config, k)
                    for k in (
                        "backbone_fingerprint",
                        "feature_layer",
                        "max_length",
                        "prefix",
                        "max_windows",
                        "all_sentences",
                    )
                ]
                + ([summarizer.config.topic_encoder] if summarizer.config.topic_encoder else []),
                inference_precision(),
                [(r["id"], r["title"], r["body"]) for r in rows],
            ],
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()[:16]
    path = project_path(config.get("feature_cache", "build/cache")) / f"summaries-v3-{key}.pt"
    if path.exists():
        logger.info("encoded articles from %s", path)
        return [_from_record(record) for record in torch.load(path, weights_only=True)]
    articles = encode_articles(summarizer, rows, config["encode_batch_size"], "encode IndoSum")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    torch.save([_to_record(article) for article in articles], partial)
    partial.replace(path)
    return articles


@functools.cache
def _oracle_scorer() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=False)


def oracle_selection(sentences: list[str], reference: str, max_sentences: int = 5) -> list[int]:
    """Greedily add the sentence that most improves ROUGE-1 + ROUGE-2 F1; stop when none does."""
    scorer = _oracle_scorer()
    chosen: list[int] = []
    best = 0.0
    while len(chosen) < max_sentences:
        candidates = []
        for index in range(len(sentences)):
            if index in chosen:
                continue
            summary = " ".join(sentences[i] for i in sorted([*chosen, index]))
            score = scorer.score(reference, summary)
            candidates.append((score["rouge1"].fmeasure + score["rouge2"].fmeasure, index))
        if not candidates:
            break
        value, index = max(candidates)
        if value <= best:
            break
        best, chosen = value, [*chosen, index]
    return sorted(chosen)


def oracle_choices(articles: list[CachedArticle], cache_dir: Path) -> dict[str, list[int]]:
    """The greedy ORACLE's sentence indices per article id, cached on disk (they depend on the candidate
    sentences and the reference only)."""
    key = hashlib.sha1(
        json.dumps([(a.id, a.text, len(a.sentences), a.summary) for a in articles]).encode()
    ).hexdigest()[:16]
    cache = cache_dir / f"oracle-{key}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    chosen = {
        a.id: oracle_selection([s.text for s in a.sentences], a.summary)
        for a in tqdm(articles, desc="oracle", unit="article")
    }
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(".tmp")
    partial.write_text(json.dumps(chosen))
    partial.replace(cache)
    return chosen


def with_targets(articles: list[CachedArticle], target: str, oracle: dict[str, list[int]]) -> list[CachedArticle]:
    """Training targets: IndoSum's extractive labels (``gold``) or the greedy ROUGE ORACLE (``oracle``)."""
    if target == "gold":
        return articles
    if target != "oracle":
        raise ValueError(f"target must be gold or oracle, not {target!r}")
    out = []
    for article in articles:
        labels = torch.zeros(len(article.sentences))
        labels[oracle[article.id]] = 1.0
        out.append(replace(article, labels=labels))
    return out


def collate(articles: list[CachedArticle], max_sentences: int):
    width = min(max(len(a.sentences) for a in articles), max_sentences)
    hidden = articles[0].vectors.shape[1]
    vectors = torch.zeros((len(articles), width, hidden))
    features = torch.zeros((len(articles), width, articles[0].features.shape[1]))
    labels = torch.zeros((len(articles), width))
    mask = torch.zeros((len(articles), width), dtype=torch.bool)
    titles = torch.stack([a.title for a in articles])
    for row, article in enumerate(articles):
        n = min(len(article.sentences), width)
        vectors[row, :n], features[row, :n], labels[row, :n] = (
            article.vectors[:n],
            article.features[:n],
            article.labels[:n],
        )
        mask[row, :n] = True
    return vectors, features, labels, mask, titles


@torch.no_grad()
def article_scores(scorer: SentenceScorer, article: CachedArticle) -> np.ndarray:
    mask = torch.ones((1, len(article.sentences)), dtype=torch.bool)
    features = article.features.unsqueeze(0)
    return scorer(article.vectors.unsqueeze(0), features, mask, article.title.unsqueeze(0))[0].numpy()


@functools.cache
def _rouge() -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)


def mean_rouge(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 (rouge-score, no stemmer) over (prediction, reference) pairs."""
    scorer = _rouge()
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for prediction, reference in pairs:
        for key, value in scorer.score(reference, prediction).items():
            totals[key] += value.fmeasure
    return {key: round(100 * value / max(len(pairs), 1), 2) for key, value in totals.items()}


def served_summaries(
    articles: list[CachedArticle], scores: list[np.ndarray], k: int, block_trigrams: bool = True
) -> list[tuple[str, str]]:
    """(summary, reference) pairs chosen exactly as ``Summarizer.summarize`` chooses (eligible only)."""
    out = []
    for article, score in zip(articles, scores, strict=True):
        chosen, _ = choose(article.text, article.sentences, lambda s=score: s, k, block_trigrams=block_trigrams)
        out.append((" ".join(article.sentences[i].text for i in chosen), article.summary))
    return out


def fit_scorer(
    train_articles: list[CachedArticle],
    validation: list[CachedArticle],
    config: dict,
    scorer_config: SummarizerConfig,
) -> tuple[SentenceScorer, dict]:
    """Train a fresh scorer; keep the epoch with the best validation ROUGE-1 of the served selection."""
    seed_everything(config["seed"])
    scorer = build_scorer(train_articles[0].vectors.shape[1], scorer_config)
    optimizer = torch.optim.AdamW(scorer.parameters(), lr=config["lr"], weight_decay=config.get("weight_decay", 0.01))
    positives = sum(float(a.labels.sum()) for a in train_articles)
    negatives = sum(len(a.labels) for a in train_articles) - positives
    pos_weight = torch.tensor(negatives / max(positives, 1.0)) ** config.get("pos_weight_power", 0.5)
    rng = random.Random(config["seed"])
    best, history = {"rouge1": -1.0}, []
    for epoch in range(config["epochs"]):
        scorer.train()
        order = list(range(len(train_articles)))
        rng.shuffle(order)
        for start in range(0, len(order), config["batch_size"]):
            batch = [train_articles[i] for i in order[start : start + config["batch_size"]]]
            vectors, features, labels, mask, titles = collate(batch, scorer.max_sentences)
            logits = scorer(vectors, features, mask, titles)
            if config.get("loss", "bce") == "listwise":
                # Softmax over an article's sentences against its labels spread evenly (a ranking loss).
                logits = logits.masked_fill(~mask, -1e4)
                target = labels / labels.sum(-1, keepdim=True).clamp(min=1)
                loss = -(target * torch.log_softmax(logits, dim=-1)).sum(-1).mean()
            else:
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    logits, labels, pos_weight=pos_weight, reduction="none"
                )
                loss = (loss * mask).sum() / mask.sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(scorer.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()
        scorer.eval()
        scores = [article_scores(scorer, a) for a in validation]
        rouge = mean_rouge(served_summaries(validation, scores, config["select_k"], scorer_config.block_trigrams))
        history.append({"epoch": epoch + 1, "loss": round(float(loss), 4), **{f"val_{k}": v for k, v in rouge.items()}})
        logger.info("epoch %d: %s", epoch + 1, history[-1])
        if rouge["rouge1"] > best["rouge1"]:
            best = {**rouge, "epoch": epoch + 1, "state": {k: v.clone() for k, v in scorer.state_dict().items()}}
    scorer.load_state_dict(best.pop("state"))
    scorer.eval()
    return scorer, {"best": best, "history": history}


def base_summarizer(config: dict) -> tuple[Summarizer, SummarizerConfig]:
    """The backbone wrapped as a scorer-less Summarizer carrying the configured settings. With ``topic_encoder``
    (a topic classifier trained whole), the lower layers are that encoder's fine-tuned ones: the pass the two
    heads then share at serving time."""
    model, tokenizer, resolved = load_backbone(config["backbone"])
    n_lower = min(config["feature_layer"], model.config.num_hidden_layers)
    digest = None
    if config.get("topic_encoder"):
        path = project_path(config["topic_encoder"])
        classifier = TopicClassifier.load(path, shared_backbone=(model, tokenizer, resolved), shared_layers=n_lower)
        model, digest = classifier.backbone, encoder_digest(path)
    scorer_config = summarizer_config(config, resolved, n_lower, digest)
    return Summarizer.from_torch(model, tokenizer, None, scorer_config), scorer_config


def for_scorer(articles: list[CachedArticle], scorer_config: SummarizerConfig) -> list[CachedArticle]:
    """The articles with the hand features ``scorer_config`` asks for (the cache holds all of them), as
    ``Summarizer.inputs`` gives them."""
    width = feature_count(scorer_config) - int(scorer_config.all_sentences)
    out = []
    for article in articles:
        features = article.features[:, :width]
        if scorer_config.all_sentences:
            features = torch.from_numpy(with_read_flag(features.numpy(), article.n_read))
        out.append(replace(article, features=features))
    return out


def train(config: dict) -> dict:
    """Encode IndoSum (or read the cache), fit the scorer and save the summariser; return the training metrics."""
    out_dir = prepare_run_dir(config, KIND)  # first: a refused directory costs no encoding or training
    config = config | {"output_dir": shown(out_dir)}
    started = time.perf_counter()
    summarizer, scorer_config = base_summarizer(config)
    articles = for_scorer(load_corpus(config, summarizer), scorer_config)
    target = config.get("target", "gold")
    oracle = (
        oracle_choices(articles, project_path(config.get("feature_cache", "build/cache"))) if target == "oracle" else {}
    )
    articles = with_targets(articles, target, oracle)
    encoded_at = time.perf_counter()
    train_articles = [a for a in articles if a.split == "train"]
    validation = [a for a in articles if a.split == "validation"]
    scorer, fit = fit_scorer(train_articles, validation, config, scorer_config)
    summarizer.scorer = scorer

    summarizer.save_pretrained(out_dir)
    metrics = {
        "train_articles": len(train_articles),
        "validation_articles": len(validation),
        "best_epoch": fit["best"]["epoch"],
        "validation_rouge_best": {k: fit["best"][k] for k in ("rouge1", "rouge2", "rougeL")},
        "history": fit["history"],
        "precision": inference_precision(),
        "seconds": {
            "encode": round(encoded_at - started, 1),
            "train": round(time.perf_counter() - encoded_at, 1),
            "total": round(time.perf_counter() - started, 1),
        },
    }
    return write_training_outputs(out_dir, config, metrics)


def main(argv: list[str] | None = None) -> None:
    config = config_from_args(__doc__, "configs/summarizer.yaml", argv)
    try:
        print(json.dumps(train(config), indent=2))
    except RunDirError as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
