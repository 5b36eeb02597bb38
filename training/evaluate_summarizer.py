"""Summariser evaluation: cross-validated ROUGE on IndoSum, and the shipped model's latency.

    python -m training.evaluate_summarizer --cv [--config configs/summarizer.yaml] [--set KEY=VALUE ...]
    python -m training.evaluate_summarizer [--model models/summarizer]
    python -m training.evaluate_summarizer [--cv] --model build/runs/RUN_NAME   # a run, before promoting it

A run is evaluated where training wrote it (``build/runs/RUN_NAME``; ``--cv`` then reads its
``training_config.yaml``); ``python -m training.promote RUN_NAME`` copies it with these files into
``models/summarizer``.

``--cv``: 4-fold cross-validation over IndoSum's dev folds (each article once, in its first fold).
For each fold a fresh scorer is trained on the other three folds, its epoch chosen on their
validation slice only, then scored on the held-out fold next to plain LEAD-3 (the first three
sentences of the splitter), the summariser's own ``lead`` method (through ``Summarizer.summarize``),
centroid and the greedy ORACLE. Per-fold figures and mean ± sd go to ``cv.json`` in the model
directory (``--out`` elsewhere) and into the model card.

Without ``--cv``: the shipped model's validation ROUGE through the served path and the latency of
``Analyzer.analyze`` on a 400-word article (with and without the summary), into ``eval.json``; with
``--raw CSV`` also fragments and headings among the summaries of raw scraped articles and where the
longest article's summary comes from.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

from service.models.summaries.summarizer import Summarizer, centroid_scores, rank_unread_last
from training.config import apply_overrides, cpu_description, load_config, project_path
from training.model_card import write_summarizer_card
from training.train_summarizer import (
    CachedArticle,
    article_scores,
    base_summarizer,
    fit_scorer,
    for_scorer,
    load_corpus,
    mean_rouge,
    oracle_choices,
    served_summaries,
    with_targets,
)

if TYPE_CHECKING:
    import pandas as pd

    from service.analyzer import Analyzer

logger = logging.getLogger(__name__)
METRICS = ("rouge1", "rouge2", "rougeL")


def plain_lead(articles: list[CachedArticle], k: int) -> list[tuple[str, str]]:
    """(first k sentences of the splitter, reference) pairs: LEAD-k with no rule of ours applied."""
    return [(" ".join(s.text for s in a.sentences[:k]), a.summary) for a in articles]


def method_pairs(
    articles: list[CachedArticle], summarizer: Summarizer, k: int, oracle: dict[str, str]
) -> dict[str, list[tuple[str, str]]]:
    """(summary, reference) pairs of every method on ``articles``; ``summarizer`` holds the fold's scorer."""
    texts = [a.text for a in articles]
    starts = [a.body_start for a in articles]
    lead = summarizer.summarize(texts, max_sentences=k, method="lead", body_starts=starts)
    return {
        "model": served_summaries(
            articles, [article_scores(summarizer.scorer, a) for a in articles], k, summarizer.config.block_trigrams
        ),
        "lead3_plain": plain_lead(articles, k),
        "lead": [(summary.text, a.summary) for summary, a in zip(lead, articles, strict=True)],
        "centroid": served_summaries(
            articles, [rank_unread_last(centroid_scores(a.vectors[: a.n_read]), len(a.sentences)) for a in articles], k
        ),
        "oracle": [(oracle[a.id], a.summary) for a in articles],
    }


def mean_sd(values: list[float]) -> dict[str, float]:
    return {
        "mean": round(statistics.mean(values), 2),
        "sd": round(statistics.stdev(values), 2) if len(values) > 1 else 0.0,
    }


def cross_validate(config: dict, k: int, only_folds: list[int] | None = None) -> dict:
    started = time.perf_counter()
    summarizer, scorer_config = base_summarizer(config)
    articles = for_scorer(load_corpus(config, summarizer), scorer_config)
    chosen = oracle_choices(articles, project_path(config.get("feature_cache", "build/cache")))
    oracle = {a.id: " ".join(a.sentences[i].text for i in chosen[a.id]) for a in articles}
    articles = with_targets(articles, config.get("target", "gold"), chosen)
    folds = []
    for fold in only_folds or sorted({a.fold for a in articles}):
        pool = [a for a in articles if a.fold != fold]
        train = [a for a in pool if a.split == "train"]
        validation = [a for a in pool if a.split == "validation"]
        test = [a for a in articles if a.fold == fold]
        fit_started = time.perf_counter()
        summarizer.scorer, fit = fit_scorer(train, validation, config, scorer_config)
        pairs = method_pairs(test, summarizer, k, oracle)
        scores = {name: mean_rouge(method) for name, method in pairs.items()}
        # Where the first k sentences are all whole sentences, `lead` must be exactly plain LEAD-k.
        whole = [i for i, a in enumerate(test) if all(a.eligible[:k])]
        same = sum(pairs["lead"][i][0] == pairs["lead3_plain"][i][0] for i in whole)
        folds.append(
            {
                "fold": fold,
                "train_articles": len(train),
                "validation_articles": len(validation),
                "test_articles": len(test),
                "best_epoch": fit["best"]["epoch"],
                "validation": {m: fit["best"][m] for m in METRICS},
                "test": scores,
                "lead_identical_to_plain": {
                    "articles_whose_first_k_are_whole_sentences": len(whole),
                    "identical": same,
                },
                "fit_seconds": round(time.perf_counter() - fit_started, 1),
            }
        )
        logger.info("fold %d: %s", fold, json.dumps(scores))
    methods = list(folds[0]["test"])
    summary = {
        method: {metric: mean_sd([f["test"][method][metric] for f in folds]) for metric in METRICS}
        for method in methods
    }
    margins = [
        {m: round(f["test"]["model"][m] - f["test"]["lead3_plain"][m], 2) for m in METRICS} | {"fold": f["fold"]}
        for f in folds
    ]
    lead_gap = [round(f["test"]["lead"]["rouge1"] - f["test"]["lead3_plain"]["rouge1"], 2) for f in folds]
    return {
        "protocol": (
            "4-fold CV over IndoSum dev folds (ids and URLs deduplicated, first fold wins); scorer trained on "
            "three folds, epoch chosen on their validation slice, tested on the fourth"
        ),
        "sentences_per_summary": k,
        "articles": len(articles),
        "folds": folds,
        "mean_sd": summary,
        "model_minus_lead3_plain": margins,
        "model_minus_lead3_plain_mean": {m: mean_sd([x[m] for x in margins]) for m in METRICS},
        "lead_minus_lead3_plain_rouge1": lead_gap,
        "validation_rouge1_mean": round(statistics.mean(f["validation"]["rouge1"] for f in folds), 2),
        "settings": {
            key: config.get(key)
            for key in (
                "lexical_features",
                "similarity_features",
                "block_trigrams",
                "target",
                "loss",
                "epochs",
                "max_windows",
                "all_sentences",
            )
        },
        "cpu": cpu_description(),
        "seconds": round(time.perf_counter() - started, 1),
    }


def record_variant(path: Path, name: str, result: dict) -> None:
    """Keep one line per CV run: its settings, mean validation ROUGE-1 (what chooses) and test margin."""
    variants = json.loads(path.read_text()) if path.exists() else {}
    variants[name] = {
        "settings": result["settings"],
        "validation_rouge1_mean": result["validation_rouge1_mean"],
        "model_minus_lead3_plain_rouge1": result["model_minus_lead3_plain_mean"]["rouge1"]["mean"],
    }
    path.write_text(json.dumps(variants, indent=2))


def analyzer_latency(analyzer: Analyzer, runs: int = 40) -> dict:
    """p50 of ``Analyzer.analyze`` on one 400-word article, with and without the summary."""
    from training.benchmark_service import articles_of

    texts = articles_of(400, runs)
    analyzer.analyze(texts[:2])  # warm-up
    result = {"article_words": 400, "runs": 2 * runs, "precision": analyzer.backend}
    for name, options in (("analyze", {}), ("topics_only", {"with_summary": False})):
        timings = []
        for _ in range(2):
            for text in texts:
                begin = time.perf_counter()
                analyzer.analyze([text], **options)
                timings.append(1000 * (time.perf_counter() - begin))
        result[f"{name}_p50_ms"] = round(statistics.median(timings), 1)
    result["summary_share_ms"] = round(result["analyze_p50_ms"] - result["topics_only_p50_ms"], 1)
    return result


def raw_check(path: Path, analyzer: Analyzer, count: int = 30, min_words: int = 150) -> dict:
    """Summaries of the first ``count`` raw articles over ``min_words`` words of a scraped CSV (title,
    content), through ``Analyzer.analyze``: how many summary sentences are fragments or headings."""
    import pandas as pd

    from service.models.summaries.features import MIN_SUMMARY_WORDS, WORD
    from service.text import is_heading

    frame = pd.read_csv(path)
    rows = [r for r in frame.itertuples() if isinstance(r.content, str) and len(r.content.split()) > min_words]
    rows = rows[:count]
    results = analyzer.analyze([{"id": str(r.Index), "title": r.title, "text": r.content} for r in rows])
    sentences = [s.text for r in results for s in r.summary_sentences]
    return {
        "file": path.name,
        "long_article": long_article_example(frame, analyzer),
        "articles": len(rows),
        "summary_sentences": len(sentences),
        "fragments_of_3_words_or_fewer": [s for s in sentences if len(WORD.findall(s)) < MIN_SUMMARY_WORDS],
        "headings": [s for s in sentences if is_heading(s)],
        "errors": [r.error for r in results if r.error],
    }


def long_article_example(frame: pd.DataFrame, analyzer: Analyzer) -> dict:
    """Where the summary of the longest article of ``frame`` (title, content) comes from, in the text the analyzer
    reads (title line + cleaned body): the body's length, how far into it the encoder reads, and each chosen
    sentence's index and first word's position, at 3 sentences and at ratio 0.2."""
    from service.analyzer import prepare_article
    from service.models.summaries.summarizer import split_body
    from service.text import title_and_body

    rows = [r for r in frame.itertuples() if isinstance(r.content, str)]
    row = max(rows, key=lambda r: len(r.content.split()))
    prepared = prepare_article(row.content, row.title)
    text, body_start = title_and_body(prepared.title, prepared.text)
    sentences = split_body(text, body_start)
    document = analyzer.summarizer.encode([text])[0]
    read_up_to = document.offsets[-1][-1][1] if document.offsets[-1] else len(text)

    def words_before(offset: int) -> int:
        return len(text[body_start:offset].split())

    example = {
        "row": int(row.Index),
        "words": words_before(len(text)),
        "sentences": len(sentences),
        "words_read_by_the_encoder": words_before(max(read_up_to, body_start)),
    }
    article = {"id": str(row.Index), "title": row.title, "text": row.content}
    for name, options in (("max_sentences_3", {"max_sentences": 3}), ("ratio_0.2", {"ratio": 0.2})):
        chosen = analyzer.analyze([article], **options)[0].summary_sentences
        example[name] = [{"index": s.index, "starts_at_word": words_before(sentences[s.index].start)} for s in chosen]
    return example


def model_summarizer(config: dict, model_dir: Path) -> Summarizer:
    """The summariser in ``model_dir`` run by PyTorch, beside the topic classifier it was trained on if any
    (``topic_encoder`` in its training config)."""
    from service.analyzer import load_torch_models

    if config.get("topic_encoder"):
        return load_torch_models(project_path(config["topic_encoder"]), model_dir)[1]
    return Summarizer.load(model_dir)


def evaluate_shipped(config: dict, model_dir: Path, k: int, raw: Path | None = None) -> dict:
    """Validation ROUGE through the served path, latency, and with ``raw`` the raw-article check; one Analyzer
    (the shipped topic classifier + this summariser) serves the last two."""
    from service.analyzer import Analyzer

    summarizer = model_summarizer(config, model_dir)
    articles = for_scorer(load_corpus(config, summarizer), summarizer.config)
    validation = [a for a in articles if a.split == "validation"]
    scores = [article_scores(summarizer.scorer, a) for a in validation]
    served = mean_rouge(served_summaries(validation, scores, k, summarizer.config.block_trigrams))
    lead = mean_rouge(plain_lead(validation, k))
    analyzer = Analyzer.load(summarizer_dir=model_dir)
    result = {
        "validation_articles": len(validation),
        "sentences_per_summary": k,
        "validation_rouge_f1": {"model": served, "lead3_plain": lead},
        "latency": analyzer_latency(analyzer),
        "artifact_bytes": sum(p.stat().st_size for p in model_dir.iterdir() if p.is_file() and p.suffix != ".md"),
        "cpu": cpu_description(),
    }
    if raw:
        result["raw_check"] = raw_check(raw, analyzer)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cv", action="store_true", help="4-fold cross-validation over the IndoSum dev folds")
    parser.add_argument("--model", default="models/summarizer")
    parser.add_argument("--config", default=None, help="training config (default: the model's training_config.yaml)")
    parser.add_argument(
        "--set", nargs="*", action="extend", default=[], metavar="KEY=VALUE", help="override config values (YAML)"
    )
    parser.add_argument("--folds", type=int, nargs="*", help="with --cv: only these test folds (quick checks)")
    parser.add_argument("--variant", help="with --cv: record this run under NAME in MODEL/cv_variants.json")
    parser.add_argument("--k", type=int, default=3, help="sentences per summary for every method")
    parser.add_argument("--out", default=None, help="where --cv writes its JSON (default MODEL/cv.json)")
    parser.add_argument("--raw", type=Path, help="also check summaries of raw scraped articles (CSV: title, content)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    model_dir = project_path(args.model)
    config = load_config(project_path(args.config) if args.config else model_dir / "training_config.yaml")
    apply_overrides(config, args.set)
    if args.cv:
        result = cross_validate(config, args.k, args.folds)
        out = project_path(args.out) if args.out else model_dir / "cv.json"
        if args.variant:
            record_variant(model_dir / "cv_variants.json", args.variant, result)
    else:
        result = evaluate_shipped(config, model_dir, args.k, args.raw)
        out = model_dir / "eval.json"
    out.write_text(json.dumps(result, indent=2))
    if out.parent == model_dir and (model_dir / "cv.json").exists() and (model_dir / "eval.json").exists():
        write_summarizer_card(model_dir)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
