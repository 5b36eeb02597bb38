"""Model cards (Hugging Face style README.md) written from the measured JSON files, never by hand."""

from __future__ import annotations

import json
from pathlib import Path

import yaml


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _gold_table(gold: dict) -> str:
    if not gold:
        return ""
    rows = "\n".join(
        f"| {name} | {gold[key]['accuracy']:.4f} | {gold[key]['macro_f1']:.4f} |"
        for name, key in (
            ("this model", "model"),
            ("TF-IDF + logistic regression", "baseline_tfidf_logreg"),
            ("the publisher labels themselves", "publisher_labels"),
        )
    )
    return f"""**Hand-checked labels.** Publisher sections are noisy (a *lifestyle* section carrying world news,
an *automotive* one carrying tax policy). {gold["rows"] + gold["left_out_other"]} test articles, the same number per
publisher label, were labelled by hand and blind (`docs/test_gold_labels.tsv`, `docs/data.md`); the
{gold["left_out_other"]} that fit no topic are left out. Against the hand labels of the other {gold["rows"]}:

| | accuracy | macro-F1 |
|---|---|---|
{rows}
"""


def write_classifier_card(model_dir: Path) -> None:
    config = _read_json(model_dir / "config.json")
    train = _read_json(model_dir / "train_metrics.json")
    result = _read_json(model_dir / "eval.json")
    training = yaml.safe_load((model_dir / "training_config.yaml").read_text())
    model, base = result["model"], result["baseline_tfidf_logreg"]
    metadata = {
        "language": ["id"],
        "license": "apache-2.0",
        "library_name": "warta",
        "pipeline_tag": "text-classification",
        "tags": ["topic-classification", "indonesian", "news"],
        "datasets": ["CLICK-ID", "indonews-2015/2018/2020/2023/2025 scrapes (see docs/data.md)"],
        "base_model": "intfloat/multilingual-e5-small" if config["backbone"] == "e5-small" else config["backbone"],
        "metrics": ["accuracy", "f1"],
        "model-index": [
            {
                "name": "warta-topic-classifier",
                "results": [
                    {
                        "task": {"type": "text-classification"},
                        "dataset": {"name": "Warta test split (Indonesian news, June 2025)", "type": "warta-topics"},
                        "metrics": [
                            {"type": "accuracy", "value": model["accuracy"]},
                            {"type": "f1", "name": "macro-F1", "value": model["macro_f1"]},
                        ],
                    }
                ],
            }
        ],
    }
    rows = "\n".join(
        f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
        f"{base['per_label'][label]['f1']:.3f} | {m['support']} |"
        for label, m in model["per_label"].items()
    )
    sections = result["section_labelled_only"]
    seconds = train.get("seconds", {})
    gold_table = _gold_table(result.get("gold_subset") or {})
    components = result.get("components_macro_f1", {})
    refit_line = (
        f"The lexical half, its weight, the temperature and the threshold were then refitted on these encoder\n"
        f"layers with `--set stage=lexical`: {train['lexical_refit_seconds']} s, peak RSS"
        f" {train.get('lexical_refit_peak_rss_mb')} MB.\n"
        if "lexical_refit_seconds" in train
        else ""
    )
    speed = result["speed_batch_32"]
    speed_precision = f", {speed['precision']} inference" if "precision" in speed else ""
    weight = config.get("lexical_weight", 0.0)
    lexical_part = (
        f" A lexical half — TF-IDF word 1–2-grams ({train.get('lexical_terms')} terms) + logistic regression —"
        f" is mixed in: the final score is a weighted geometric mean of both models' probabilities, weight"
        f" {weight} on the lexical half, chosen on the calibration split (see Evaluation)."
        if weight
        else ""
    )
    components_line = (
        "Each half alone on the test split (macro-F1): "
        + ", ".join(f"{name.replace('_', ' ')} {value:.4f}" for name, value in components.items())
        + "."
        if components
        else ""
    )
    card = f"""---
{yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True).strip()}
---

# Warta topic classifier

Tags Indonesian news articles with the 11 topics of `configs/labels.yaml` (governance, economy,
health, education, law, sport, technology, automotive, entertainment, lifestyle, world). It is the
backbone `{config["backbone"]}` with its top {config["trainable_layers"]} encoder layers fine-tuned
and a linear head over mean-pooled tokens.{lexical_part} This directory holds only those layers,
the head and the lexical model (fp16 safetensors, term list as JSON); the backbone is rebuilt from its
package and checked against fingerprint `{config["backbone_fingerprint"]}` when loading.

```python
from service.classifier import TopicClassifier
classifier = TopicClassifier.load("models/topic-classifier")
classifier.predict(["Judul berita\\nIsi berita ..."])[0].topics
```

## Intended use and limits

For tagging Indonesian-language news by topic in newsrooms, media monitoring and research. Not
for other languages (it will answer, confidently and wrongly), not for opinion mining, and not a
substitute for editorial judgement on sensitive categories. Training labels are publisher
sections plus lexicon rules for broad sections (see `docs/data.md`): stories on the
governance/law border (KPK, criminal-code bills) are labelled inconsistently, and health and
education had few training articles.

## Evaluation

Test split: {result["test_rows"]} articles from June 2025 (nine outlets), a period no training
article comes from; {result["test_rows_section_labelled"]} of them carry publisher-section labels, the rest
lexicon-rule labels. {train.get("calibration_rows")} other June-2025 articles (the `{train.get("calibration_split")}`
split, disjoint from test) were used only to fit the lexical weight, the temperature and the topic
threshold. Baseline: TF-IDF word 1–2-grams + logistic regression, trained on the same train split in
the same run (`python -m training.evaluate_classifier`).

| | accuracy | macro-F1 | macro-F1, section-labelled rows |
|---|---|---|---|
| this model | {model["accuracy"]:.4f} | {model["macro_f1"]:.4f} | {sections["model_macro_f1"]:.4f} |
| TF-IDF + logistic regression | {base["accuracy"]:.4f} | {base["macro_f1"]:.4f} | {sections["baseline_macro_f1"]:.4f} |

| label | precision | recall | F1 | baseline F1 | support |
|---|---|---|---|---|---|
{rows}

{components_line}
Confusion matrix: `confusion_matrix.png` (counts in `eval.json`).

{gold_table}

**Scores** are softmax probabilities calibrated by temperature scaling on the
`{train.get("calibration_split")}` split (T = {config["temperature"]:.3f}); expected calibration error there
{train.get("ece_calibration_split", {}).get("before")} → {train.get("ece_calibration_split", {}).get("after")},
on test {result["ece_test"]["before"]} → {result["ece_test"]["after"]}. `topics` lists the top label plus every
label with probability ≥ {config["threshold"]}, the threshold that maximised per-article F1 on that split.
The lexical weight was chosen there too (macro-F1 by weight:
{train.get("calibration_macro_f1_by_lexical_weight")}).

**Long articles** are split into {config["max_length"]}-token windows; validation macro-F1 with the first
window only was {train.get("validation_macro_f1", {}).get("head")}, with the mean over all windows
{train.get("validation_macro_f1", {}).get("chunk_mean")}; the model uses `{config["long_text"]}`.

**Speed** (2-core CPU, batch 32, {result["speed_batch_32"]["articles"]} test articles{speed_precision}):
{result["speed_batch_32"]["articles_per_second"]} articles/s.

## Training

`python -m training.train_classifier --config configs/classifier.yaml` (the exact config is
`training_config.yaml` here): {train.get("train_rows")} training rows ({train.get("train_auxiliary_rows")}
headlines/sentences at weight {training.get("aux_weight")}), first {config["max_length"]}-token window
(title + lead), lower layers frozen and cached once, {training.get("epochs")} epochs, batch
{training.get("batch_size")}, AdamW (lr {training.get("lr_layers")} layers / {training.get("lr_head")} head), class
weights (inverse frequency)^{training.get("class_weight_power")}, best epoch by validation macro-F1
({train.get("best_epoch")}), seed {training.get("seed")}. Wall time {seconds.get("total")} s
(caching {seconds.get("cache_lower_layers")} s, training {seconds.get("train")} s) on 2 CPU cores;
peak RSS {train.get("peak_rss_mb")} MB. Artifact size {train.get("artifact_bytes", 0) / 1e6:.1f} MB.
{refit_line}"""
    (model_dir / "README.md").write_text(card, encoding="utf-8")


def write_summarizer_card(model_dir: Path) -> None:
    config = _read_json(model_dir / "config.json")
    train = _read_json(model_dir / "train_metrics.json")
    result = _read_json(model_dir / "eval.json")
    training = yaml.safe_load((model_dir / "training_config.yaml").read_text())
    rouge = result["rouge_f1"]
    metadata = {
        "language": ["id"],
        "license": "apache-2.0",
        "library_name": "warta",
        "pipeline_tag": "summarization",
        "tags": ["extractive-summarization", "indonesian", "news"],
        "datasets": ["IndoSum"],
        "base_model": "intfloat/multilingual-e5-small" if config["backbone"] == "e5-small" else config["backbone"],
        "metrics": ["rouge"],
    }
    names = {
        "supervised": "supervised (this model)",
        "centroid": "centroid (no trained head)",
        "lead": "LEAD-3",
        "oracle": "ORACLE (ceiling)",
    }
    rows = "\n".join(
        f"| {names[m]} | {r['rouge1']:.2f} | {r['rouge2']:.2f} | {r['rougeL']:.2f} |" for m, r in rouge.items()
    )
    seconds = train.get("seconds", {})
    card = f"""---
{yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True).strip()}
---

# Warta extractive summariser

Scores every sentence of an Indonesian news article and returns the best ones, in article order,
with their character offsets. Sentences are represented by the mean of the backbone's token
states after its first {config["feature_layer"]} layers (the same pass the topic classifier runs, so
one encoder pass serves both), plus four position features; a {config["layers"]}-layer inter-sentence
transformer (width {config["width"]}) gives each a score. Selection is greedy with trigram blocking
(no two chosen sentences share a word trigram) and a sentence or word budget.

```python
from service.summarizer import Summarizer
summarizer = Summarizer.load("models/summarizer")
summarizer.summarize(["Isi berita ..."], max_sentences=3)[0].sentences  # index, start, end, text
```

## Evaluation

IndoSum test split ({result["test_articles"]} articles, split by id; see `docs/data.md`), ROUGE F1
(rouge-score, no stemmer), {result["sentences_per_summary"]} sentences for every method, all in one run
(`python -m training.evaluate_summarizer`):

| method | ROUGE-1 | ROUGE-2 | ROUGE-L |
|---|---|---|---|
{rows}

Supervised minus LEAD-3: {result["supervised_minus_lead"]}. Speed: a {result["speed_400_words"]["words"]}-word
article takes {result["speed_400_words"]["median_ms"]} ms (median of {result["speed_400_words"]["runs"]}, 2 CPU cores,
encoder pass included).

## Intended use and limits

Extractive: every sentence is the article's own, so it cannot invent facts, but it can drop context
(a quote without its speaker). Trained on IndoSum (2017 Indonesian news, mostly national, sport,
entertainment and technology); IndoSum's labels favour the lead, so the model does too. Not for
other languages.

## Training

`python -m training.train_summarizer --config configs/summarizer.yaml` (exact config in
`training_config.yaml`): {train.get("train_articles")} training articles, {training.get("epochs")} epochs,
best epoch {train.get("best_epoch")} by validation ROUGE-1 ({train.get("validation_rouge_best")}), seed
{training.get("seed")}. Wall time {seconds.get("total")} s (encoding {seconds.get("encode")} s) on 2 CPU
cores, peak RSS {train.get("peak_rss_mb")} MB, artifact {result["artifact_bytes"] / 1e6:.2f} MB.
"""
    (model_dir / "README.md").write_text(card, encoding="utf-8")
