"""ROUGE of every summary method on the IndoSum test split, in one run.

    python -m training.evaluate_summarizer [--model models/summarizer] [--config configs/summarizer.yaml]

Methods: supervised (the trained scorer), centroid (no trained head), LEAD-3, and ORACLE (the
greedy best extractive selection against the reference, the ceiling). Writes ``eval.json`` and
the model card into the model directory.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time

import numpy as np
from rouge_score import rouge_scorer

from service.summarizer import Summarizer, centroid_scores
from training.config import load_config, project_path
from training.model_card import write_summarizer_card
from training.train_summarizer import article_scores, load_split, mean_rouge, summaries_from_scores

logger = logging.getLogger(__name__)


def oracle_selection(sentences: list[str], reference: str, max_sentences: int = 5) -> list[int]:
    """Greedily add the sentence that most improves ROUGE-1 + ROUGE-2 F1; stop when none does."""
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=False)
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


def words_article(text: str, words: int = 400) -> str:
    """The first ``words`` words of a text, kept at sentence boundaries where possible."""
    tokens = text.split(" ")
    return " ".join(tokens[:words])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/summarizer")
    parser.add_argument("--config", default="configs/summarizer.yaml")
    parser.add_argument("--k", type=int, default=3, help="sentences per summary for every method")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from datasets import load_from_disk

    config = load_config(project_path(args.config))
    model_dir = project_path(args.model)
    summarizer = Summarizer.load(model_dir)
    rows = list(load_from_disk(str(project_path(config["data_dir"])))["test"])
    articles = load_split(
        summarizer.backbone,
        summarizer.tokenizer,
        rows,
        summarizer.config.feature_layer,
        summarizer.config.max_length,
        summarizer.config.prefix,
        config["encode_batch_size"],
        "encode test",
    )
    k = args.k
    results = {
        "supervised": mean_rouge(
            summaries_from_scores(articles, [article_scores(summarizer.scorer, a) for a in articles], k)
        ),
        "centroid": mean_rouge(summaries_from_scores(articles, [centroid_scores(a.vectors) for a in articles], k)),
        "lead": mean_rouge(
            summaries_from_scores(
                articles, [-np.arange(len(a.sentences), dtype=float) for a in articles], k, block_trigrams=False
            )
        ),
    }
    oracle_pairs = []
    for article in articles:
        texts = [s.text for s in article.sentences]
        oracle_pairs.append((" ".join(texts[i] for i in oracle_selection(texts, article.summary)), article.summary))
    results["oracle"] = mean_rouge(oracle_pairs)

    sample = words_article(max((r["text"] for r in rows), key=len), 400)
    summarizer.summarize([sample])  # warm-up
    timings = []
    for _ in range(10):
        started = time.perf_counter()
        summarizer.summarize([sample], max_sentences=k)
        timings.append(time.perf_counter() - started)
    result = {
        "test_articles": len(articles),
        "sentences_per_summary": k,
        "rouge_f1": results,
        "supervised_minus_lead": {m: round(results["supervised"][m] - results["lead"][m], 2) for m in results["lead"]},
        "speed_400_words": {
            "words": len(sample.split()),
            "median_ms": round(1000 * statistics.median(timings), 1),
            "runs": len(timings),
        },
        "artifact_bytes": sum(p.stat().st_size for p in model_dir.iterdir() if p.name != "README.md"),
    }
    (model_dir / "eval.json").write_text(json.dumps(result, indent=2))
    write_summarizer_card(model_dir)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
