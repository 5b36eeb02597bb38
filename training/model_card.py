"""Model cards (Hugging Face style README.md) written from the measured JSON files, never by hand."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from training.annotation import load_agreement
from training.compare_runs import render as render_runs
from training.config import lexical_rows_setting, project_path
from training.provenance import overlap_phrase
from training.scorings import read_scorings, scorings_table


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


EVAL_ROWS = (
    ("this model", "model"),
    ("TF-IDF + LR, careful labels", "tfidf_careful_labels"),
    ("TF-IDF + LR, publisher sections", "tfidf_publisher_labels"),
    ("publisher labels themselves", "publisher_labels"),
)


def classifier_eval_tables(result: dict) -> str:
    """The gold-test tables of ``eval.json``: overall, per label, as Markdown."""

    def cell(row: dict, key: str) -> str:
        return f"{row[key]:.4f}" if key in row else "–"

    lines = [
        "| | rows | accuracy | macro-F1 | top-2 recall | example-F1 (topics) | ECE |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, key in EVAL_ROWS:
        r = result[key]
        lines.append(
            f"| {name} | {r['rows']} | {cell(r, 'accuracy')} | {cell(r, 'macro_f1')} | {cell(r, 'top2_recall')} | "
            f"{cell(r, 'example_f1_topics')} | {cell(r, 'ece')} |"
        )
    model = result["model"]
    if "macro_f1_interval" in model:
        low, high = model["macro_f1_interval"]
        lines += [
            "",
            f"The model's macro-F1 {model['macro_f1']:.4f} has a 95 % bootstrap interval of [{low:.4f}, {high:.4f}] "
            f"({model['bootstrap_resamples']:,} resamples of these {model['rows']:,} articles): how far it moves "
            "with which articles happen to be in the test.",
        ]
    lines += ["", "| label | P | R | F1 | F1 TF-IDF careful | F1 TF-IDF publisher | F1 publisher labels | support |"]
    lines.append("|---|---|---|---|---|---|---|---|")
    for label, m in model["per_label"].items():
        others = " | ".join(f"{result[k]['per_label'][label]['f1']:.3f}" for _, k in EVAL_ROWS[1:])
        lines.append(
            f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {others} | {m['support']} |"
        )
    return "\n".join(lines)


def _front_matter(metadata: dict) -> str:
    """The card's YAML metadata block."""
    return f"---\n{yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True).strip()}\n---\n"


def _base_model(config: dict) -> str:
    """The Hugging Face name of the backbone a model was trained on."""
    return "intfloat/multilingual-e5-small" if config["backbone"] == "e5-small" else config["backbone"]


def _classifier_metadata(config: dict, result: dict) -> dict:
    """The classifier card's metadata, gold-test scores included."""
    model = result["model"]
    return {
        "language": ["id"],
        "license": "apache-2.0",
        "library_name": "warta",
        "pipeline_tag": "text-classification",
        "tags": ["topic-classification", "indonesian", "news"],
        "datasets": ["CLICK-ID", "indonews-2015/2018/2020/2023/2024/2025 scrapes (see docs/data.md)"],
        "base_model": _base_model(config),
        "metrics": ["accuracy", "f1"],
        "model-index": [
            {
                "name": "warta-topic-classifier",
                "results": [
                    {
                        "task": {"type": "text-classification"},
                        "dataset": {"name": "Warta gold test (June 2025, read twice)", "type": "warta-topics"},
                        "metrics": [
                            {"type": "accuracy", "value": model["accuracy"]},
                            {"type": "f1", "name": "macro-F1", "value": model["macro_f1"]},
                        ],
                    }
                ],
            }
        ],
    }


def _trained_whole(config: dict, train: dict) -> bool:
    """Every encoder layer fine-tuned (``train_metrics.json`` records the backbone's layer count)."""
    return bool(train.get("backbone_layers")) and config["trainable_layers"] >= train["backbone_layers"]


def _layers_phrase(config: dict, train: dict) -> str:
    """'all 12 encoder layers fine-tuned …' for a topic encoder trained whole, else 'its top N …'."""
    if _trained_whole(config, train):
        total = train["backbone_layers"]
        return f"all {total} encoder layers fine-tuned for topics (embedding table frozen)"
    return f"its top {config['trainable_layers']} encoder layers fine-tuned"


def _storage_phrase(config: dict, train: dict) -> str:
    """What the directory holds of the encoder, and (trained whole) how its pass is shared."""
    if not _trained_whole(config, train):
        return "This directory holds only those layers,"
    rank = config.get("delta_rank")
    held = (
        f"each fine-tuned layer matrix as its change from the backbone's at rank {rank} (`delta_rank`; the layer "
        "vectors whole), calibrated and evaluated as stored,"
        if rank
        else "the fine-tuned layers,"
    )
    return (
        "At serving time the encoder is cut where a summariser trained on its states reads it (`topic_encoder`), so "
        f"one pass serves both; beside any other summariser it is a pass of its own. This directory holds {held}"
    )


def _classifier_intro(config: dict, train: dict) -> str:
    """Title, what the model is, and how to load it."""
    weight = config.get("lexical_weight", 0.0)
    lexical_part = (
        f" A lexical half — TF-IDF word 1–2-grams ({train.get('lexical_terms')} terms) + logistic regression —"
        f" is mixed in as a weighted geometric mean of both models' probabilities, weight {weight} on the"
        f" lexical half, chosen on the calibration split."
        if weight
        else ""
    )
    return f"""# Warta topic classifier

Tags Indonesian news articles with the 11 topics of `configs/labels.yaml` (governance, economy,
health, education, law, sport, technology, automotive, entertainment, lifestyle, world). It is the
backbone `{config["backbone"]}` with {_layers_phrase(config, train)} and a linear head over mean-pooled
tokens.{lexical_part} {_storage_phrase(config, train)}
the head and the lexical model; the backbone is rebuilt from its package and checked against
fingerprint `{config["backbone_fingerprint"]}` when loading.

```python
from service.models.topics.classifier import TopicClassifier

classifier = TopicClassifier.load("models/topic-classifier")
classifier.predict(["Judul berita\\nIsi berita ..."])[0].topics
```
"""


CLASSIFIER_LIMITS = """## Intended use and limits

For tagging Indonesian-language news by topic in newsrooms, media monitoring and research. Not
for other languages, not for opinion mining, not a substitute for editorial judgement. Topic truth
is the taxonomy as careful readers apply it (`docs/annotation.md`); publisher sections are a weak
signal. Articles that fit no topic (disasters, accidents) still get the closest topic: there is
no `other` output.
"""


def _classifier_labels_section(agreement: dict) -> str:
    """How the topic labels were read and how well the readers agree ("" before any reading)."""
    if not agreement:
        return ""
    read_counts = {k: sum(v.values()) for k, v in agreement.get("final_labels_per_set", {}).items()}
    return f"""## Labels: careful reading

Topic truth is the taxonomy as careful readers apply it (`docs/annotation.md`: definitions,
examples, boundary rules). Readers see the title and the start of the body only — no publisher
label, no model output. Read articles: {json.dumps(read_counts)}
(train / gold test / calibration / transfer: the out-of-period validation slice);
double-read: {json.dumps(agreement["double_read_per_set"])}; agreement on the main
label {agreement["overall"]["agreement"]}, Cohen's kappa {agreement["overall"]["kappa"]} (per label: `docs/data.md`);
disagreements adjudicated by the guide: {json.dumps(agreement["adjudicated_per_set"])}. **The readers are language
models** (independent LLM helpers reading like careful people, following the guide), so their agreement is likely
higher than two human annotators' would be. How often publisher sections agree with the readers:
`docs/data.md`.
"""


def _classifier_selection_section(selection: list[dict]) -> str:
    """The runs compared to choose the configuration ("" without ``run_selection.json``)."""
    if not selection:
        return ""
    return (
        "## How the configuration was chosen\n\n"
        "Runs compared before the gold test was scored (`python -m training.compare_runs`, output in\n"
        "`run_selection.json`): label sources, the June-2025 slice outside gold/calibration as training data,\n"
        "and the extra windows native bf16 pays for. The choice is made on *selection* macro-F1: the final\n"
        "model (encoder + lexical half) on the careful-read rows of validation and calibration together, among\n"
        "runs scored on the same rows; where runs tie there within noise, agreement with publisher sections on\n"
        "validation decides (the owners' publisher-labelled sets must not fall; the config says which rule chose).\n"
        "Runs on different data builds have different validation rows; calibration is the same for all. Rows\n"
        "measured on an earlier day were scored on the build of that day (`--earlier`); `trained on` counts the\n"
        "validation and calibration rows scored that the run trained on (`?`: no record, `training.provenance`);\n"
        "rows measured with `--clean` leave out every row that any run compared that day trained on.\n"
        "*Cross-fitted mix* (`--crossfit 5`, a check beside the choice): the run's encoder and lexical half with\n"
        "the mixing weight and temperature refitted on four fifths of validation + calibration and scored on the\n"
        "fifth; it judges the halves without resting on a weight fitted on 485 rows (the ± is how much five\n"
        "different splits move it, not sampling noise: the paired interval of the next column measures that).\n"
        "*vs reference* (`--bootstrap 1000`): the run's selection macro-F1 minus the reference run's (the first\n"
        "run of that day's command) on the same rows, with a 95 % interval from paired bootstrap resamples of\n"
        "them: a difference whose interval spans 0 is one the rows cannot tell from chance.\n\n"
        f"{render_runs(selection)}\n"
    )


def _scored_times(scorings: list[dict]) -> str:
    return f"scored {len(scorings)} time{'s' if len(scorings) != 1 else ''}, every scoring logged below"


def _classifier_evaluation_section(result: dict, scorings: list[dict]) -> str:
    """Gold-test protocol, the tables of ``eval.json``, each half alone and speed."""
    model = result["model"]
    components = ", ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in result.get("components_macro_f1", {}).items())
    speed = result["speed_batch_32"]
    return f"""## Evaluation (development test: the gold set, {_scored_times(scorings)})

{result["gold_articles"]} June-2025 articles from nine outlets, each read by two independent careful
readers (title + start of the body, no publisher label) and adjudicated by the guide where they
disagreed; {result["left_out_other"]} read as `other` are left out. Every choice (label source,
epoch, long-text pooling, lexical weight, temperature, threshold) was made on validation or on the
calibration split, never on this set. Baselines are trained in the same run on the same train
split. ECE is after temperature scaling (before: {model.get("ece_before_temperature")}); `topics` is the top
label plus every label with probability ≥ {result["threshold"]} (example-F1 against main + second labels); for the
baselines and the publisher labels the topic set is their top label alone.

{classifier_eval_tables(result)}

Each half alone (macro-F1): {components or "–"}. Confusion matrix: `confusion_matrix.png` (counts in
`eval.json`). Speed: {speed["articles_per_second"]} articles/s at batch 32 ({speed["articles"]} gold articles,
{" ".join(filter(None, [result.get("backend", "torch"), result.get("precision")]))}, 2 CPU cores).

### Every scoring of this set (`scorings.jsonl`)

The set may be scored again after a round of work; each scoring is appended to `scorings.jsonl` by
`training.evaluate_classifier` (this card's tables, on the backend named above) and
`training.evaluate_backends` (each backend's macro-F1). Entries before the log existed were
reconstructed from the repository's history. Each entry names the commit; entries logged since commit
feb0d71 also name the training run scored (`run`). An entry without one scored the model in `models/` at the
time: the one shipped at its commit, or, for a commit marked `+dirty`, the one the next commit shipped.

{scorings_table(scorings)}
"""


def _per_source_section(result: dict) -> str:
    """Every evaluation per source and year ("" for an eval.json without the breakdown)."""
    tables = result.get("per_source_year")
    if not tables:
        return ""
    titles = {
        "development_test": "development test (gold, June 2025)",
        "validation_read": "validation, careful-read rows (the out-of-period `transfer` slice and earlier reads)",
        "validation_publisher_labels": "validation rows labelled by their publisher section, against that label",
    }
    blocks = []
    for key, title in titles.items():
        rows = tables.get(key) or {}
        lines = ["| source year | rows | labels | accuracy | macro-F1 |", "|---|---|---|---|---|"]
        lines += [
            f"| {name} | {m['rows']} | {m.get('labels', '')} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} |"
            for name, m in rows.items()
        ]
        blocks.append(f"**{title}**\n\n" + "\n".join(lines))
    provenance = tables.get("provenance") or {}
    seen = overlap_phrase(provenance.get("scored_rows_trained_on") or {"": None}, provenance.get("trained_articles"))
    intro = (
        "The same model and backend as above; macro-F1 over the labels each row's articles carry (`labels`). " + seen
    )
    return f"### Per source and year\n\n{intro}\n\n" + "\n\n".join(blocks) + "\n"


def _frozen_phrase(config: dict, train: dict, training: dict) -> str:
    if _trained_whole(config, train):
        decay = training.get("layer_decay", 1.0)
        return (
            f"every encoder layer trained (learning rate {training.get('lr_layers')} at the top, × {decay} per layer "
            f"below, warm-up {training.get('warmup_ratio')} of the steps), the embedding table frozen"
        )
    return "lower layers frozen and cached"


def _sections_phrase(train: dict, training: dict) -> str:
    """The publisher-section rows' weight, when the label source trains on any."""
    if train.get("label_source") == "read":
        return " (no publisher-section rows)"
    return f"; publisher-section rows at weight {training.get('publisher_weight')}"


def _run_phrase(config: dict, train: dict, training: dict) -> str:
    """One training run: its data, windows, schedule, wall time and peak RSS."""
    seconds = train.get("seconds", {})
    return f"""label source
`{train.get("label_source")}` — {train.get("train_rows")} training rows, {train.get("train_rows_read")} of them
careful-read, {train.get("train_auxiliary_rows")} headlines/sentences at weight {training.get("aux_weight")}{
        _sections_phrase(train, training)
    }. The first {training.get("train_windows", 1)}
{config["max_length"]}-token window(s) of each article ({train.get("train_windows")} training windows),
{_frozen_phrase(config, train, training)}, up to {training.get("epochs")} epochs, validated every
{training.get("eval_every") or 1} epoch, best at epoch {train.get("best_epoch")} by validation macro-F1 on
careful-read rows (early stopping: patience {training.get("patience")}); bf16 autocast: {train.get("bf16")};
seed {training.get("seed")}. Wall time {seconds.get("total")} s (caching {seconds.get("cache_lower_layers")} s,
training {seconds.get("train")} s) on {train.get("cpu", "a 2-core CPU")}; peak RSS {train.get("peak_rss_mb")} MB"""


def _classifier_training_section(config: dict, train: dict, training: dict) -> str:
    """How the model was trained: data, windows, epochs, wall time and size (for a soup, of each run)."""
    size = f"artifact {train.get('artifact_bytes', 0) / 1e6:.1f} MB"
    if not train.get("ingredients"):
        return f"""## Training

`python -m training.train_classifier` with exactly the config in `training_config.yaml` (output
directory `{training.get("output_dir")}`, then copied here): {_run_phrase(config, train, training)};
{size}.{_refit_phrase(config, train, training)}
"""
    runs = "\n".join(
        f"- `{Path(r['run']).name}`: {_run_phrase(config, r['metrics'], r['config'])}." for r in train["ingredients"]
    )
    rank = config.get("delta_rank")
    stored = f"stored at rank {rank} (`delta_rank`)" if rank else "stored whole"
    pooling = "chosen" if training.get("long_text") == "auto" else f"set to `{config.get('long_text')}`, both scored"
    return f"""## Training

The encoder is a *model soup* (`python -m training.soup`, config in `training_config.yaml`, output directory
`{training.get("output_dir")}`, then copied here): the mean of the encoder layers and heads of the
{len(train["ingredients"])} runs below, each trained by `python -m training.train_classifier` from the same
backbone, {stored}; then long-text pooling {pooling} on validation, the lexical half fitted on
{_lexical_rows_phrase(training, train)} and calibration fitted, as after training. The soup's record of trained
rows is the union of the runs' and the lexical half's ({train.get("train_rows")} rows). Loading, averaging and
fitting: {train["seconds"]["averaging"]} s, peak RSS {train.get("peak_rss_mb")} MB on {train.get("cpu")}; training
in all (runs + soup): {train["seconds"]["total"]} s; {size}.{_refit_phrase(config, train, training)}

{runs}
"""


def _lexical_rows_phrase(training: dict, train: dict) -> str:
    """Which training rows the lexical half learned from (``lexical.rows`` of the training config), and how many."""
    which = lexical_rows_setting(training)
    source = training.get("label_source", "all")
    kind = "careful-read training articles" if which == "read" else f"`{source}` training rows"
    count = train.get("lexical_rows")
    return f"{count} {kind}" if count else kind


def _refit_phrase(config: dict, train: dict, training: dict) -> str:
    """A later ``stage: lexical`` on the run (compressing to ``delta_rank`` first when it asked), if any."""
    if "lexical_refit_seconds" not in train:
        return ""
    rank = config.get("delta_rank")
    compressed = f"stored at rank {rank} (`delta_rank`) and " if rank else ""
    cost = f"{train['lexical_refit_seconds']} s, peak RSS {train.get('lexical_refit_peak_rss_mb')} MB"
    if train.get("lexical_refit_cpu"):
        cost += f" on {train['lexical_refit_cpu']}"
    return (
        f" The run's encoder was then {compressed}its lexical half (on {_lexical_rows_phrase(training, train)}) "
        f"and calibration refitted by `--set stage=lexical` ({cost}); the default config does both in one "
        "training run."
    )


def write_classifier_card(model_dir: Path) -> None:
    """Write ``model_dir/README.md`` for the classifier from the measured files next to it."""
    config = _read_json(model_dir / "config.json")
    train = _read_json(model_dir / "train_metrics.json")
    result = _read_json(model_dir / "eval.json")
    training = yaml.safe_load((model_dir / "training_config.yaml").read_text())
    selection_path = model_dir / "run_selection.json"
    selection = json.loads(selection_path.read_text()) if selection_path.exists() else []
    sections = [
        _front_matter(_classifier_metadata(config, result)),
        _classifier_intro(config, train),
        CLASSIFIER_LIMITS,
        _classifier_labels_section(load_agreement()),
        _classifier_selection_section(selection),
        _classifier_evaluation_section(result, read_scorings(model_dir)),
        _per_source_section(result),
        _classifier_training_section(config, train, training),
    ]
    (model_dir / "README.md").write_text("\n".join(sections), encoding="utf-8")


CV_NAMES = {
    "model": "this model",
    "lead3_plain": "plain LEAD-3 (first three sentences of the splitter)",
    "lead": '`method="lead"` (through `Summarizer.summarize`)',
    "centroid": "centroid (no trained head)",
    "oracle": "greedy ORACLE (ceiling)",
}


def summarizer_cv_tables(cv: dict) -> str:
    """Per-fold and mean ± sd ROUGE F1 of every method, and the model's margin over plain LEAD-3."""
    folds = cv["folds"]
    head = (
        "| method | "
        + " | ".join(f"fold {f['fold']} R-1 / R-2 / R-L" for f in folds)
        + " | mean ± sd R-1 | R-2 | R-L |"
    )
    lines = [head, "|---" * (len(folds) + 4) + "|"]
    for method, name in CV_NAMES.items():
        cells = [" / ".join(f"{f['test'][method][m]:.2f}" for m in ("rouge1", "rouge2", "rougeL")) for f in folds]
        stats = [
            f"{cv['mean_sd'][method][m]['mean']:.2f} ± {cv['mean_sd'][method][m]['sd']:.2f}"
            for m in ("rouge1", "rouge2", "rougeL")
        ]
        lines.append(f"| {name} | " + " | ".join(cells + stats) + " |")
    margin = cv["model_minus_lead3_plain_mean"]
    lines += [
        "",
        "Model minus plain LEAD-3, per fold (R-1 / R-2): "
        + ", ".join(f"fold {m['fold']}: {m['rouge1']:+.2f} / {m['rouge2']:+.2f}" for m in cv["model_minus_lead3_plain"])
        + f"; mean R-1 {margin['rouge1']['mean']:+.2f} ± {margin['rouge1']['sd']:.2f}, "
        + f"R-2 {margin['rouge2']['mean']:+.2f} ± {margin['rouge2']['sd']:.2f}.",
        "",
        "| fold | train | validation | test | best epoch | validation R-1 | `lead` = plain LEAD-3 "
        "where the first three are whole sentences |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in folds:
        same = f["lead_identical_to_plain"]
        lines.append(
            f"| {f['fold']} | {f['train_articles']} | {f['validation_articles']} | {f['test_articles']} | "
            f"{f['best_epoch']} | {f['validation']['rouge1']:.2f} | {same['identical']} of "
            f"{same['articles_whose_first_k_are_whole_sentences']} identical |"
        )
    return "\n".join(lines)


def _summarizer_metadata(config: dict) -> dict:
    """The summariser card's metadata."""
    return {
        "language": ["id"],
        "license": "apache-2.0",
        "library_name": "warta",
        "pipeline_tag": "summarization",
        "tags": ["extractive-summarization", "indonesian", "news"],
        "datasets": ["IndoSum"],
        "base_model": _base_model(config),
        "metrics": ["rouge"],
    }


def _summarizer_features(config: dict) -> list[str]:
    """What the sentence scorer sees, in words."""
    features = [
        "the pooled sentence vector",
        "four position features (relative position, 1/(index+1), paragraph start, length)",
    ]
    if config.get("lexical_features"):
        features.append("word overlap with the title and with the rest of the article, has-a-number, is-a-quote")
    if config.get("similarity_features"):
        features.append("cosine to the article's mean sentence and to the title line")
    if config.get("all_sentences"):
        features.append("a flag for the sentences past the windows read, which have no vector")
    return features


def _summarizer_reading(config: dict) -> str:
    """Which sentences the encoder reads and which are candidates, in words."""
    windows = config.get("max_windows")
    if windows is None:
        return "The encoder reads every window of the article."
    read = f"The encoder reads the first {windows} windows of {config['max_length']} tokens"
    if config.get("all_sentences"):
        return f"{read}; the sentences after them are candidates too, scored by their hand features alone."
    return f"{read}; the sentences after them rank after those inside, in article order."


def _summarizer_encoder(config: dict) -> str:
    """Whose lower layers the summariser reads: the frozen backbone's, or a topic encoder's trained whole."""
    if config.get("topic_encoder"):
        return (
            f"the topic encoder trained whole (digest `{config['topic_encoder']}`, cut there; it loads only "
            "beside that classifier: `service.analyzer.load_torch_models` or the `Analyzer` loads the pair)"
        )
    return "the frozen backbone"


def _summarizer_intro(config: dict) -> str:
    """Title, how sentences are scored and chosen, and how to load the model."""
    return f"""# Warta extractive summariser

Scores every sentence of an Indonesian news article and returns the best ones, in article order,
with their character offsets. Each sentence is the mean of the token states after the first
{config["feature_layer"]} layers of {_summarizer_encoder(config)}: the pass the topic classifier runs anyway, over the
title line + body, so one encoder pass serves both models. The scorer sees {"; ".join(_summarizer_features(config))}; a
{config["layers"]}-layer inter-sentence transformer (width {config["width"]}) gives each sentence a score.
{_summarizer_reading(config)}
Selection is greedy by score {"with" if config.get("block_trigrams", True) else "without"} trigram blocking,
within a sentence, ratio or word budget. A summary sentence is always a sentence: fragments of three
words or fewer, headings and list lead-ins on a line of their own are never chosen.

{_summarizer_snippet(config)}
"""


def _summarizer_snippet(config: dict) -> str:
    """How to load the summariser alone: beside its topic classifier when it reads the topic encoder's layers."""
    if config.get("topic_encoder"):
        load = (
            "from service.analyzer import load_torch_models\n\n"
            '_, summarizer = load_torch_models("models/topic-classifier", "models/summarizer")  # one shared pass'
        )
    else:
        load = (
            "from service.models.summaries.summarizer import Summarizer\n\n"
            'summarizer = Summarizer.load("models/summarizer")'
        )
    return f"""```python
{load}
summarizer.summarize(["Isi berita ..."], max_sentences=3)[0].sentences  # index, start, end, text
```"""


def _summarizer_cv_section(cv: dict) -> str:
    """The cross-validation protocol and its tables."""
    return f"""## Evaluation: 4-fold cross-validation on IndoSum

`python -m training.evaluate_summarizer --cv --config configs/summarizer.yaml`. {cv["protocol"]}.
{cv["articles"]} articles; ROUGE F1 (rouge-score, no stemmer), {cv["sentences_per_summary"]} sentences for every
method, texts cleaned by `service.text.clean_text` as in serving. CPU: {cv["cpu"]}.

{summarizer_cv_tables(cv)}
"""


def _summarizer_choices_section(variants: dict) -> str:
    """The configuration runs compared on the folds' validation slices (``cv_variants.json``)."""
    variant_rows = "\n".join(
        f"| {name} | {v['settings']} | {v['validation_rouge1_mean']:.2f} | {v['model_minus_lead3_plain_rouge1']:+.2f} |"
        for name, v in variants.items()
    )
    return f"""### Choices, made on the folds' validation slices only

Mean validation ROUGE-1 of the four fold models (the test folds' margin is shown for the record;
it did not choose anything).

| run | settings | validation R-1 | test margin over plain LEAD-3 (R-1) |
|---|---|---|---|
{variant_rows}
"""


def _summarizer_serving_section(result: dict) -> str:
    """Serving latency, and the check on raw scraped articles when ``eval.json`` has one."""
    latency = result["latency"]
    section = f"""## Serving

`Analyzer.analyze` on one 400-word article, p50 of {latency["runs"]} runs ({latency["precision"]}, 2 CPU cores,
{result["cpu"]}): {latency["analyze_p50_ms"]} ms with the summary, {latency["topics_only_p50_ms"]} ms topics only.
"""
    raw = result.get("raw_check")
    if raw:
        section += f"""
Raw scraped articles (`--raw {raw["file"]}`, the first {raw["articles"]} over 150 words, through
`Analyzer.analyze`): {raw["summary_sentences"]} summary sentences, {len(raw["fragments_of_3_words_or_fewer"])} of three
words or fewer, {len(raw["headings"])} headings.
"""
    long = raw.get("long_article") if raw else None
    if long:

        def places(chosen: list[dict]) -> str:
            return ", ".join(f"sentence {c['index']} (word {c['starts_at_word']})" for c in chosen)

        section += f"""
Where a long article's summary comes from (the file's longest, row {long["row"]}: {long["words"]} words,
{long["sentences"]} sentences, as cleaned; the encoder reads its first {long["words_read_by_the_encoder"]} words):
3 sentences: {places(long["max_sentences_3"])}; ratio 0.2: {places(long["ratio_0.2"])}.
"""
    return section


SUMMARIZER_LIMITS = """## Intended use and limits

Extractive: every sentence is the article's own, so it cannot invent facts, but it can drop context
(a quote without its speaker). Trained on IndoSum (2017 Indonesian news, mostly national, sport,
entertainment and technology; titles taken from the URL slug, lower case); IndoSum's summaries
favour the lead, so the model does too. Not for other languages.
"""


def _summarizer_training_section(train: dict, training: dict, result: dict) -> str:
    """How the model was trained: data, epochs, wall time and size."""
    seconds = train.get("seconds", {})
    return f"""## Training

`python -m training.train_summarizer --config configs/summarizer.yaml` (exact config in
`training_config.yaml`): {train.get("train_articles")} training articles (all four folds but the
validation slice), {training.get("epochs")} epochs, best epoch {train.get("best_epoch")} by validation ROUGE-1
({train.get("validation_rouge_best")}), seed {training.get("seed")}. Wall time {seconds.get("total")} s (encoding
{seconds.get("encode")} s; a warm feature cache skips it) on {train.get("cpu")}, peak RSS {train.get("peak_rss_mb")} MB,
artifact {result["artifact_bytes"] / 1e6:.2f} MB.
"""


def write_summarizer_card(model_dir: Path) -> None:
    """Write ``model_dir/README.md`` for the summariser from the measured files next to it."""
    config = _read_json(model_dir / "config.json")
    train = _read_json(model_dir / "train_metrics.json")
    result = _read_json(model_dir / "eval.json")
    cv = _read_json(model_dir / "cv.json")
    variants = _read_json(model_dir / "cv_variants.json")
    training = yaml.safe_load((model_dir / "training_config.yaml").read_text())
    sections = [
        _front_matter(_summarizer_metadata(config)),
        _summarizer_intro(config),
        _summarizer_cv_section(cv),
        _summarizer_choices_section(variants),
        _summarizer_serving_section(result),
        SUMMARIZER_LIMITS,
        _summarizer_training_section(train, training, result),
    ]
    (model_dir / "README.md").write_text("\n".join(sections), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """Rewrite both shipped model cards from the files next to them (``make report`` runs it last)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--classifier", default="models/topic-classifier")
    parser.add_argument("--summarizer", default="models/summarizer")
    args = parser.parse_args(argv)
    write_classifier_card(project_path(args.classifier))
    write_summarizer_card(project_path(args.summarizer))


if __name__ == "__main__":
    main()
