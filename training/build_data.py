"""Build the topic and summarisation corpora from the raw folders.

    python -m training.build_data [--config configs/data.yaml] [--raw-dir DIR] [--out-dir DIR]

Writes Hugging Face datasets (``save_to_disk``) to ``out_dir/topics`` and ``out_dir/summaries``,
``out_dir/stats.json``, and a random sample of rule-labelled articles for the precision check.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from service.config import load_labels
from service.text import clean_title
from training.annotation import OTHER, FinalLabel, final_labels, load_adjudication, load_reads
from training.cleaning import clean_body
from training.config import load_config, load_yaml, project_path
from training.dedupe import find_duplicates
from training.labeling import LexiconRules, SectionMap, label_article
from training.sources import read_source

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "calibration", "test", "heldout", "unlabelled")


@dataclass
class Article:
    """A cleaned, labelled article as stored in the topic corpus."""

    id: str
    source: str
    outlet: str
    year: int
    title: str
    text: str
    url: str
    section: str
    label: str | None
    label_method: str
    is_aux: bool
    split: str = ""
    publisher_label: str | None = None  # the publisher section's label, kept as a weak signal after reading
    second_label: str = ""  # a second topic recorded by careful reading


def collect_articles(config: dict, sources: dict, raw_dir: Path) -> tuple[list[Article], Counter]:
    cleaning = config["cleaning"]
    weak = config["weak_labels"]
    section_map = SectionMap(sources["sections"], sources.get("outlet_sections"))
    lexicon_config = load_yaml(project_path(weak["lexicons"]))
    rules = LexiconRules(lexicon_config["lexicons"], lexicon_config["targets"], weak["min_score"], weak["margin"])
    known = {label.key for label in load_labels()}
    articles, dropped = [], Counter()
    for name, spec in sources["sources"].items():
        rows = list(read_source(name, spec, raw_dir))
        for raw in tqdm(rows, desc=f"clean+label {name}", unit="row", leave=False):
            is_aux = raw.kind == "aux"
            text = (
                clean_title(raw.text)
                if is_aux
                else clean_body(raw.text, spec.get("repair_joined_paragraphs", False), cleaning["max_chars"])
            )
            if len(text.split()) < (cleaning["min_words_aux"] if is_aux else cleaning["min_words"]):
                dropped[f"{name}: too short"] += 1
                continue
            title = clean_title(raw.title)
            decision = label_article(raw.sections, raw.outlet, title, text, section_map, None if is_aux else rules)
            if decision.label is not None and decision.label not in known:
                raise ValueError(f"sources.yaml maps {decision.section!r} to unknown label {decision.label!r}")
            articles.append(
                Article(
                    id=raw.id,
                    source=name,
                    outlet=raw.outlet,
                    year=raw.year,
                    title=title,
                    text=text,
                    url=raw.url,
                    section=decision.section,
                    label=decision.label,
                    label_method=decision.method,
                    is_aux=is_aux,
                )
            )
    return articles, dropped


def remove_duplicates(
    articles: list[Article], settings: dict, annotated: dict[str, str] | None = None
) -> tuple[list[Article], Counter]:
    """Drop exact and near duplicates across all sources, keeping read copies first (gold before
    others: ``annotated`` maps ids to their annotation set), then labelled ones."""
    annotated = annotated or {}
    kept, removed = [], Counter()
    for is_aux in (False, True):
        group = [a for a in articles if a.is_aux == is_aux]
        group.sort(
            key=lambda a: (
                annotated.get(a.id) != "gold",
                a.id not in annotated,
                a.label is None,
                a.label_method != "section",
            )
        )
        texts = [f"{a.title}\n{a.text}" if not is_aux else a.text for a in group]
        duplicate_of = find_duplicates(
            texts,
            shingle_words=settings["shingle_words"] if not is_aux else 2,
            num_perm=settings["num_perm"],
            bands=settings["bands"],
            threshold=settings["threshold"],
        )
        for article, original in zip(group, duplicate_of, strict=True):
            if original is None:
                kept.append(article)
            else:
                removed[article.source] += 1
    return kept, removed


def apply_reading(articles: list[Article], finals: dict[str, FinalLabel]) -> None:
    """Careful-reading labels replace section/rule labels; the publisher label is kept beside them.

    An article read as ``other`` (none of the 11 topics) gets no topic label.
    """
    for article in articles:
        article.publisher_label = article.label if article.label_method == "section" else None
        final = finals.get(article.id)
        if final is None or article.is_aux:
            continue
        article.label = None if final.label == OTHER else final.label
        article.second_label = final.second
        article.label_method = "read"


def _fraction(purpose: str, seed: int, article_id: str) -> float:
    """A stable number in [0, 1] for an article and a purpose: the same whatever else is in the corpus."""
    return int(hashlib.sha1(f"{purpose}:{seed}:{article_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def assign_splits(articles: list[Article], settings: dict, seed: int, annotated: dict[str, str] | None = None) -> None:
    """Test: careful-read articles of the held-out publisher-time slice. Validation: a hashed share of the rest.

    ``annotated`` maps article ids to their annotation set (``gold``, ``calibration``, ``train``,
    ``transfer``). ``transfer`` articles (other years and publishers than the held-out slice) are
    always ``validation``: the out-of-period validation slice, never trained on.
    Within the held-out slice (``test_source``/``test_outlets``): ``gold`` ids are the test split;
    a hashed ``calibration_fraction`` of the other slice articles is ``calibration`` (where the
    lexical weight, temperature and topic threshold are fitted); the rest of the slice joins
    train/validation with its section or rule label when ``train_on_slice_rest`` is true, else it is
    ``heldout`` — never trained on, not scored. Gold articles not yet read twice and adjudicated
    are always ``heldout``. Everything else that has a label is train or validation (a hash of the id
    against ``validation_fraction``: stable when articles are added or relabelled), read articles
    included; ``train``-set readings of the slice itself (the unlabelled 2025 pool) are training rows.
    """
    annotated = annotated or {}
    gold = {i for i, s in annotated.items() if s == "gold"}
    pending = {i for i, s in annotated.items() if s == "gold-pending"}
    never_calibration = gold | pending
    fraction = settings.get("calibration_fraction", 0.0)

    def calibration(article: Article) -> bool:
        return article.id not in never_calibration and _fraction("calibration", seed, article.id) < fraction

    test_outlets = set(settings["test_outlets"])
    pool: list[Article] = []  # labelled articles to split between train and validation
    for article in articles:
        in_slice = (
            not article.is_aux
            and article.source == settings["test_source"]
            and (not test_outlets or article.outlet in test_outlets)
        )
        kept_apart = annotated.get(article.id) in ("gold", "gold-pending", "calibration", "transfer")
        if kept_apart and in_slice != (annotated[article.id] != "transfer"):
            where = "outside" if in_slice else "in"
            read_for = annotated[article.id]
            raise ValueError(f"article {article.id} is read for {read_for} but is not {where} the held-out slice")
        if kept_apart:  # placed by its annotation set: never trained on, whatever its label or hash
            split = {"gold": "test", "gold-pending": "heldout", "calibration": "calibration", "transfer": "validation"}
            article.split = split[annotated[article.id]]
        elif in_slice and annotated.get(article.id) != "train" and (article.publisher_label or article.label):
            if calibration(article):
                article.split = "calibration"
            elif not settings.get("train_on_slice_rest", False):
                article.split = "heldout"
            elif article.label is None:
                article.split = "unlabelled"
            else:  # the rest of the slice trains like any labelled article (its publisher/rule label)
                pool.append(article)
        elif article.label is None:
            article.split = "unlabelled"
        elif article.is_aux:
            article.split = "train"
        else:
            pool.append(article)
    # Validation by a hash of the id, not a shuffle of each label's members: a shuffle moved ~3,000
    # articles between train and validation whenever reads were added (a model's validation rows then
    # included its training rows). The hash keeps every article where it was when others are added
    # or relabelled.
    for article in pool:
        held_out = _fraction("validation", seed, article.id) < settings["validation_fraction"]
        article.split = "validation" if held_out else "train"


def corpus_stats(articles: list[Article]) -> dict:
    per_split_label = defaultdict(Counter)
    per_source_split_label = defaultdict(lambda: defaultdict(Counter))
    methods = defaultdict(Counter)
    for a in articles:
        label = a.label or "(none)"
        kind = "aux" if a.is_aux else "article"
        per_split_label[f"{a.split}/{kind}"][label] += 1
        per_source_split_label[a.source][a.split][label] += 1
        methods[a.label_method][label] += 1
    read_per_split_source = defaultdict(lambda: defaultdict(Counter))
    publisher_vs_reader = defaultdict(Counter)
    for a in articles:
        if a.label_method == "read":
            label = a.label or OTHER
            read_per_split_source[a.split][a.source][label] += 1
            if a.publisher_label:
                publisher_vs_reader[a.publisher_label][label] += 1
    return {
        "read_per_split_source_label": {
            split: {source: dict(c) for source, c in sorted(v.items())}
            for split, v in sorted(read_per_split_source.items())
        },
        "publisher_label_vs_reader_label": {k: dict(v.most_common()) for k, v in sorted(publisher_vs_reader.items())},
        "rows_per_split_label": {k: dict(v) for k, v in sorted(per_split_label.items())},
        "rows_per_source_split_label": {
            s: {sp: dict(c) for sp, c in v.items()} for s, v in sorted(per_source_split_label.items())
        },
        "label_methods": {k: dict(v) for k, v in methods.items()},
    }


def write_weak_label_sample(articles: list[Article], path: Path, size: int, seed: int) -> None:
    """The rule-labelled articles with the smallest seeded hash of their id.

    Hash order (rather than random.sample) keeps the sample stable when the rules change, so
    earlier verdicts in the review file stay usable and only new entries need reading.
    """

    def rank(article: Article) -> str:
        return hashlib.sha1(f"{seed}:{article.id}".encode()).hexdigest()

    sample = sorted((a for a in articles if a.label_method == "rule"), key=rank)[:size]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t")
        writer.writerow(["id", "rule_label", "section", "title", "lead"])
        for a in sample:
            writer.writerow([a.id, a.label, a.section, a.title, a.text[:500].replace("\n", " ")])


def save_topics(articles: list[Article], out_dir: Path) -> None:
    from datasets import Dataset, DatasetDict, Features, Value

    types = {"year": "int32", "is_aux": "bool"}
    features = Features({c: Value(types.get(c, "string")) for c in Article.__dataclass_fields__})
    splits = {}
    for split in SPLITS:
        rows = [asdict(a) for a in articles if a.split == split]
        if not rows:  # datasets cannot load a split saved with zero shards
            continue
        splits[split] = Dataset.from_dict({c: [r[c] for r in rows] for c in features}, features=features)
    DatasetDict(splits).save_to_disk(str(out_dir / "topics"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/data.yaml")
    parser.add_argument("--raw-dir", help="overrides raw_dir in the config")
    parser.add_argument("--out-dir", help="overrides out_dir in the config")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    started = time.perf_counter()
    config = load_config(project_path(args.config))
    raw_dir = project_path(args.raw_dir or config["raw_dir"])
    out_dir = project_path(args.out_dir or config["out_dir"])
    if not raw_dir.is_dir():
        raise SystemExit(f"error: raw data directory {raw_dir} not found (set raw_dir in {args.config})")
    sources = load_yaml(project_path(config["sources_config"]))

    articles, dropped = collect_articles(config, sources, raw_dir)
    read = len(articles) + sum(dropped.values())
    annotations = config.get("annotations") or {}
    reads = load_reads(project_path(annotations["reads"])) if annotations.get("reads") else []
    articles, duplicates = remove_duplicates(articles, config["dedupe"], {r.id: r.set for r in reads})
    adjudication = annotations.get("adjudication")
    finals = final_labels(reads, load_adjudication(project_path(adjudication)) if adjudication else {})
    apply_reading(articles, finals)
    present = {a.id for a in articles}
    missing = {r.id: r.set for r in reads if r.id not in present}
    if any(s == "gold" for s in missing.values()):
        raise SystemExit(
            f"error: {sum(s == 'gold' for s in missing.values())} gold ids are not in the corpus; was it rebuilt?"
        )
    if missing:
        logger.warning("%d read articles are not in the corpus (e.g. %s)", len(missing), next(iter(missing)))
    # A gold article counts once it is read twice (and adjudicated where the readers disagreed).
    annotated = {r.id: r.set for r in reads}
    pending = [i for i, s in annotated.items() if s == "gold" and (i not in finals or finals[i].reads < 2)]
    annotated |= dict.fromkeys(pending, "gold-pending")
    assign_splits(articles, config["split"], config["seed"], annotated)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_topics(articles, out_dir)
    write_weak_label_sample(
        articles,
        project_path(config["weak_labels"]["sample_file"]),
        config["weak_labels"]["sample_size"],
        config["seed"],
    )

    from training.summaries import build_summaries

    summary_stats = build_summaries(raw_dir, out_dir, config["summaries"], config["seed"])
    stats = {
        "rows_read": read,
        "dropped": dict(dropped),
        "duplicates_removed_per_source": dict(duplicates),
        "topics": corpus_stats(articles),
        "summaries": summary_stats,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    (out_dir / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False))
    print(render_summary(stats))


def render_summary(stats: dict) -> str:
    labels = [label.key for label in load_labels()] + ["(none)"]
    table = stats["topics"]["rows_per_split_label"]
    lines = ["| split | " + " | ".join(labels) + " | total |", "|---" * (len(labels) + 2) + "|"]
    for split, counts in table.items():
        cells = [str(counts.get(label, 0)) for label in labels]
        lines.append(f"| {split} | " + " | ".join(cells) + f" | {sum(counts.values())} |")
    lines.append("")
    lines.append(
        f"rows read {stats['rows_read']}, dropped {sum(stats['dropped'].values())}, "
        f"duplicates removed {sum(stats['duplicates_removed_per_source'].values())}, "
        f"build {stats['build_seconds']} s"
    )
    lines.append(f"summaries: {json.dumps(stats['summaries']['rows_per_split'])}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
