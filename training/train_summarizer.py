"""Train the extractive sentence scorer on IndoSum.

    python -m training.train_summarizer --config configs/summarizer.yaml

Articles run once through the backbone's lower layers (the same pass the topic classifier uses);
token states are pooled per sentence and cached, then a small inter-sentence transformer learns
IndoSum's extractive labels. Checkpoint chosen on validation ROUGE-1 of the top-3 selection.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from dataclasses import dataclass

import numpy as np
import torch
from rouge_score import rouge_scorer
from tqdm import tqdm

from service.backbone import load_backbone
from service.encoder import encode_documents, encoder_layers, sentence_vectors
from service.summarizer import SentenceScorer, Summarizer, SummarizerConfig, position_features, select
from service.text import Sentence
from training.config import config_from_args, project_path, write_training_outputs
from training.train_classifier import seed_everything

logger = logging.getLogger(__name__)


@dataclass
class CachedArticle:
    text: str
    summary: str
    sentences: list[Sentence]
    vectors: torch.Tensor
    features: torch.Tensor
    labels: torch.Tensor


def load_split(model, tokenizer, rows, n_lower: int, max_length: int, prefix: str, batch_size: int, desc: str):
    """Encode articles in chunks (bounded memory) and keep only their pooled sentence vectors."""
    cached = []
    for start in tqdm(range(0, len(rows), 64), desc=desc, unit="64 articles"):
        chunk = rows[start : start + 64]
        docs = encode_documents(model, tokenizer, [r["text"] for r in chunk], n_lower, max_length, prefix, batch_size)
        for row, doc in zip(chunk, docs, strict=True):
            sentences = [
                Sentence(s, e, row["text"][s:e])
                for s, e in zip(row["sentence_starts"], row["sentence_ends"], strict=True)
            ]
            cached.append(
                CachedArticle(
                    text=row["text"],
                    summary=row["summary"],
                    sentences=sentences,
                    vectors=sentence_vectors(doc, row["sentence_starts"], row["sentence_ends"]),
                    features=position_features(row["text"], sentences),
                    labels=torch.tensor(row["labels"], dtype=torch.float32),
                )
            )
    return cached


def collate(articles: list[CachedArticle], max_sentences: int):
    width = min(max(len(a.sentences) for a in articles), max_sentences)
    hidden = articles[0].vectors.shape[1]
    vectors = torch.zeros((len(articles), width, hidden))
    features = torch.zeros((len(articles), width, articles[0].features.shape[1]))
    labels = torch.zeros((len(articles), width))
    mask = torch.zeros((len(articles), width), dtype=torch.bool)
    for row, article in enumerate(articles):
        n = min(len(article.sentences), width)
        vectors[row, :n], features[row, :n], labels[row, :n] = (
            article.vectors[:n],
            article.features[:n],
            article.labels[:n],
        )
        mask[row, :n] = True
    return vectors, features, labels, mask


@torch.no_grad()
def article_scores(scorer: SentenceScorer, article: CachedArticle) -> np.ndarray:
    n = len(article.sentences)
    mask = torch.ones((1, n), dtype=torch.bool)
    return scorer(article.vectors.unsqueeze(0), article.features.unsqueeze(0), mask)[0].numpy()


def mean_rouge(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 (rouge-score, no stemmer) over (prediction, reference) pairs."""
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for prediction, reference in pairs:
        for key, value in scorer.score(reference, prediction).items():
            totals[key] += value.fmeasure
    return {key: round(100 * value / max(len(pairs), 1), 2) for key, value in totals.items()}


def summaries_from_scores(
    articles: list[CachedArticle], scores: list[np.ndarray], k: int, block_trigrams: bool = True
) -> list[tuple[str, str]]:
    out = []
    for article, score in zip(articles, scores, strict=True):
        chosen = select(score, article.sentences, max_sentences=k, block_trigrams=block_trigrams)
        out.append((" ".join(article.sentences[i].text for i in chosen), article.summary))
    return out


def train(config: dict) -> dict:
    from datasets import load_from_disk

    started = time.perf_counter()
    seed_everything(config["seed"])
    model, tokenizer, resolved = load_backbone(config["backbone"])
    n_lower = min(config["feature_layer"], len(encoder_layers(model)))
    data = load_from_disk(str(project_path(config["data_dir"])))
    limit = config.get("max_articles")
    splits = {}
    for name in ("train", "validation"):
        rows = list(data[name])[:limit] if limit else list(data[name])
        splits[name] = load_split(
            model,
            tokenizer,
            rows,
            n_lower,
            config["max_length"],
            resolved.passage_prefix,
            config["encode_batch_size"],
            f"encode {name}",
        )
    encoded_at = time.perf_counter()

    scorer = SentenceScorer(model.config.hidden_size, config["width"], config["layers"], config["heads"])
    optimizer = torch.optim.AdamW(scorer.parameters(), lr=config["lr"], weight_decay=config.get("weight_decay", 0.01))
    positives = sum(float(a.labels.sum()) for a in splits["train"])
    negatives = sum(len(a.labels) for a in splits["train"]) - positives
    pos_weight = torch.tensor(negatives / max(positives, 1.0)) ** config.get("pos_weight_power", 0.5)
    rng = random.Random(config["seed"])
    best, history = {"rouge1": -1.0}, []
    for epoch in range(config["epochs"]):
        scorer.train()
        order = list(range(len(splits["train"])))
        rng.shuffle(order)
        for start in range(0, len(order), config["batch_size"]):
            batch = [splits["train"][i] for i in order[start : start + config["batch_size"]]]
            vectors, features, labels, mask = collate(batch, scorer.max_sentences)
            logits = scorer(vectors, features, mask)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, labels, pos_weight=pos_weight, reduction="none"
            )
            loss = (loss * mask).sum() / mask.sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(scorer.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad()
        scorer.eval()
        val = splits["validation"]
        rouge = mean_rouge(summaries_from_scores(val, [article_scores(scorer, a) for a in val], config["select_k"]))
        history.append({"epoch": epoch + 1, "loss": round(float(loss), 4), **{f"val_{k}": v for k, v in rouge.items()}})
        logger.info("epoch %d: %s", epoch + 1, history[-1])
        if rouge["rouge1"] > best["rouge1"]:
            best = {**rouge, "epoch": epoch + 1, "state": {k: v.clone() for k, v in scorer.state_dict().items()}}
    scorer.load_state_dict(best["state"])

    summarizer = Summarizer(
        model,
        tokenizer,
        scorer,
        SummarizerConfig(
            backbone=config["backbone"],
            backbone_fingerprint=resolved.fingerprint,
            feature_layer=n_lower,
            max_length=config["max_length"],
            prefix=resolved.passage_prefix,
            width=config["width"],
            layers=config["layers"],
            heads=config["heads"],
        ),
    )
    out_dir = project_path(config["output_dir"])
    if out_dir.exists():
        shutil.rmtree(out_dir)
    summarizer.save_pretrained(out_dir)
    metrics = {
        "train_articles": len(splits["train"]),
        "validation_articles": len(splits["validation"]),
        "best_epoch": best["epoch"],
        "validation_rouge_best": {k: best[k] for k in ("rouge1", "rouge2", "rougeL")},
        "history": history,
        "seconds": {
            "encode": round(encoded_at - started, 1),
            "train": round(time.perf_counter() - encoded_at, 1),
            "total": round(time.perf_counter() - started, 1),
        },
    }
    return write_training_outputs(out_dir, config, metrics)


def main(argv: list[str] | None = None) -> None:
    config = config_from_args(__doc__, "configs/summarizer.yaml", argv)
    print(json.dumps(train(config), indent=2))


if __name__ == "__main__":
    main()
