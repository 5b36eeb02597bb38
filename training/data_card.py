"""Refresh the measured tables of the data card (docs/data.md) from a corpus build.

    python -m training.data_card [--config configs/data.yaml]

Reads ``out_dir/stats.json``, the rule-label sample and the committed review verdicts, and
rewrites the block between ``<!-- generated:start -->`` and ``<!-- generated:end -->``.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter
from pathlib import Path

from service.config import load_labels
from training.annotation import load_agreement
from training.config import load_config, project_path

START, END = "<!-- generated:start -->", "<!-- generated:end -->"


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def weak_label_precision(sample_path: Path, review_path: Path) -> tuple[dict, int, int]:
    """Per-label verdict counts for the sampled rule labels that have a review verdict."""
    with open(review_path, encoding="utf-8") as handle:
        verdicts = {(r["id"], r["rule_label"]): r["verdict"] for r in csv.DictReader(handle, delimiter="\t")}
    with open(sample_path, encoding="utf-8") as handle:
        sample = [(r["id"], r["rule_label"]) for r in csv.DictReader(handle, delimiter="\t")]
    counts: dict[str, Counter] = {}
    for key in sample:
        if key in verdicts:
            counts.setdefault(key[1], Counter())[verdicts[key]] += 1
    reviewed = sum(sum(c.values()) for c in counts.values())
    return counts, reviewed, len(sample)


def publisher_rows(vs_reader: dict[str, dict[str, int]]) -> list[list]:
    """Per publisher label: how often careful readers agree, and what they chose when not."""
    rows, agree_all, n_all = [], 0, 0
    for label in sorted(vs_reader):
        counts = Counter(vs_reader[label])
        n, agree = sum(counts.values()), counts[label]
        agree_all, n_all = agree_all + agree, n_all + n
        others = ", ".join(f"{k} {v}" for k, v in counts.most_common(4) if k != label)
        rows.append([label, n, agree, f"{agree / n:.2f}", others])
    rows.append(["all", n_all, agree_all, f"{agree_all / max(n_all, 1):.2f}", ""])
    return rows


def draw_parts(per_draw: dict, labels: list[str]) -> list[str]:
    """Reads added by each named draw: final labels, sources and years, agreement of its double reads."""
    if not per_draw:
        return []
    parts = ["", "### Reads added by named draws (`configs/annotation.yaml`, ids in `docs/annotations/draws/`)", ""]
    rows = [[name, d["read"], *(d["final_labels"].get(label, 0) for label in labels)] for name, d in per_draw.items()]
    parts.append(_table(["draw", "read", *labels], rows))
    parts += [""]
    rows = [
        [name, "; ".join(f"{k}: {v}" for k, v in d["per_source_year"].items()), d["double_read"]["articles"],
         d["double_read"]["agreement"], d["double_read"]["kappa"]]
        for name, d in per_draw.items()
    ]  # fmt: skip
    parts.append(_table(["draw", "source and year", "double-read", "agreement", "Cohen's kappa"], rows))
    return parts


def recheck_parts(per_recheck: dict) -> list[str]:
    """Second readings of chosen single-read training articles: agreement, labels changed by adjudication."""
    if not per_recheck:
        return []
    parts = [
        "",
        "### Rechecks (`docs/annotations/rechecks/`): single-read train-set articles given a second reading",
        "",
        "A recheck's list may be chosen by a model; the second reader sees no earlier label and no model output, "
        "and disagreements are adjudicated by the guide (the adjudicator sees readers as A and B, not by name). "
        "These second readings are left out of the agreement figures above. *Final label changed*: the final main "
        "label differs from the first reading's.",
        "",
    ]
    rows = [
        [name, d.get("chosen_by", ""), d["articles"], "; ".join(f"{k} {v}" for k, v in d.get("per_split", {}).items()),
         d["read_twice"], d["double_read"]["agreement"], d["double_read"]["kappa"], d.get("adjudicated", ""),
         d["final_label_changed"], d["awaiting_adjudication"]]
        for name, d in per_recheck.items()
    ]  # fmt: skip
    headers = ["recheck", "chosen by", "articles", "per split", "read twice", "agreement", "Cohen's kappa",
               "adjudicated", "final label changed", "awaiting"]  # fmt: skip
    parts.append(_table(headers, rows))
    labels = [label.key for label in load_labels()] + ["other"]
    rows = [[name, *(d.get("final_labels", {}).get(label, 0) for label in labels),
             "; ".join(f"{k}: {v}" for k, v in d.get("per_source_year", {}).items())]
            for name, d in per_recheck.items()]  # fmt: skip
    parts += ["", "Final labels and sources of the rechecked articles:", ""]
    parts.append(_table(["recheck", *labels, "source and year"], rows))
    return parts


def reading_parts(stats: dict, agreement: dict) -> list[str]:
    """Annotated counts per split/source and label, reader agreement, publisher labels vs readers."""
    topics = stats["topics"]
    labels = [label.key for label in load_labels()] + ["other"]
    parts = ["### Careful reading (docs/annotation.md)", ""]
    rows = []
    for split, sources in topics.get("read_per_split_source_label", {}).items():
        for source, counts in sources.items():
            rows.append([split, source, *(counts.get(label, 0) for label in labels), sum(counts.values())])
    parts.append(_table(["split", "source", *labels, "total"], rows))
    if agreement:
        parts += [
            "",
            "### Agreement between independent readers (main label)",
            "",
            "The readers are language models (helper agents) reading like careful people: each saw only the "
            "title and the first ~900 characters, never the publisher label or a model's output, and decided "
            "by docs/annotation.md. Their agreement is agreement between such readers, not between people.",
            "",
        ]
        rows = []
        for name, report in [("all", agreement["overall"])] + list(agreement["per_set"].items()):
            if report["articles"]:
                rows.append([name, report["articles"], report["agreement"], report["kappa"]])
        parts.append(_table(["set", "double-read articles", "agreement", "Cohen's kappa"], rows))
        parts += [""]
        per_label = agreement["overall"]["per_label"]
        parts.append(
            _table(
                ["label", "either reader", "both readers", "agreement", "kappa (label vs rest)"],
                [[k, v["either_reader"], v["both_readers"], v["agreement"], v["kappa"]] for k, v in per_label.items()],
            )
        )
        parts += [
            "",
            f"Adjudicated disagreements: {json.dumps(agreement['adjudicated_per_set'])}; awaiting adjudication: "
            f"{agreement['awaiting_adjudication']}. Readers: {len(agreement['readers'])} "
            "(each batch is one independent reader).",
        ]
        parts += draw_parts(agreement.get("per_draw", {}), labels)
        parts += recheck_parts(agreement.get("per_recheck", {}))
    vs = topics.get("publisher_label_vs_reader_label", {})
    if vs:
        parts += ["", "### Publisher section labels against careful readers (all read articles with a section)", ""]
        parts.append(
            _table(["publisher label", "read", "agree", "agreement", "reader label when not"], publisher_rows(vs))
        )
    return parts


def render(stats: dict, precision: tuple[dict, int, int], agreement: dict) -> str:
    labels = [label.key for label in load_labels()] + ["(none)"]
    parts = ["### Rows per label and split", ""]
    split_table = stats["topics"]["rows_per_split_label"]
    parts.append(
        _table(
            ["split/kind", *labels, "total"],
            [[k, *(v.get(label, 0) for label in labels), sum(v.values())] for k, v in split_table.items()],
        )
    )
    parts += ["", "### Rows per source, split and label", ""]
    rows = []
    for source, splits in stats["topics"]["rows_per_source_split_label"].items():
        for split, counts in sorted(splits.items()):
            rows.append([source, split, *(counts.get(label, 0) for label in labels), sum(counts.values())])
    parts.append(_table(["source", "split", *labels, "total"], rows))
    methods = stats["topics"]["label_methods"]
    parts += ["", "### How labels were assigned (after cleaning, before dedupe)", ""]
    parts.append(
        _table(
            ["method", *labels[:-1]],
            [[m, *(methods.get(m, {}).get(label, 0) for label in labels[:-1])] for m in ("read", "section", "rule")],
        )
    )
    counts, reviewed, sampled = precision
    parts += ["", f"### Weak-label precision ({reviewed} of {sampled} sampled rule labels read by hand)", ""]
    rows = []
    total = Counter()
    for label in sorted(counts):
        c = counts[label]
        total.update(c)
        n = sum(c.values())
        rows.append(
            [
                label,
                n,
                c["correct"],
                c["ambiguous"],
                c["wrong"],
                f"{c['correct'] / n:.2f}",
                f"{(c['correct'] + c['ambiguous']) / n:.2f}",
            ]
        )
    n = sum(total.values())
    if n:
        rows.append(
            [
                "all",
                n,
                total["correct"],
                total["ambiguous"],
                total["wrong"],
                f"{total['correct'] / n:.2f}",
                f"{(total['correct'] + total['ambiguous']) / n:.2f}",
            ]
        )
    parts.append(
        _table(
            ["rule label", "read", "correct", "ambiguous", "wrong", "precision (strict)", "precision (lenient)"], rows
        )
    )
    parts += [""] + reading_parts(stats, agreement)
    parts += ["", "### Cleaning, dedupe, build", ""]
    parts.append(
        f"- rows read: {stats['rows_read']}; dropped as too short: {sum(stats['dropped'].values())} "
        f"({json.dumps(stats['dropped'], ensure_ascii=False)})"
    )
    parts.append(
        f"- exact + near duplicates removed: {sum(stats['duplicates_removed_per_source'].values())} "
        f"({json.dumps(stats['duplicates_removed_per_source'])})"
    )
    s = stats["summaries"]
    parts.append(
        f"- summarisation corpus: {s['articles']} IndoSum articles from the four dev folds "
        f"({json.dumps(s['rows_per_fold'])} per fold; {s['duplicates_across_folds']} repeats across folds dropped), "
        f"the shipped model's splits {json.dumps(s['rows_per_split'])}; {s['with_title']} with a title from the URL "
        f"slug; bodies cleaned by `service.text.clean_text`; positive sentences {s['positive_sentences_indosum']} "
        f"(IndoSum) -> {s['positive_sentences_ours']} (ours), "
        f"{s['positive_sentences_not_found_after_cleaning']} not found after cleaning"
    )
    parts.append(f"- build time: {stats['build_seconds']} s (`python -m training.build_data`, 2-core CPU)")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/data.yaml")
    parser.add_argument("--card", default="docs/data.md")
    args = parser.parse_args(argv)
    config = load_config(project_path(args.config))
    stats = json.loads((project_path(config["out_dir"]) / "stats.json").read_text())
    weak = config["weak_labels"]
    precision = weak_label_precision(project_path(weak["sample_file"]), project_path(weak["review_file"]))
    agreement = load_agreement()
    card_path = project_path(args.card)
    card = card_path.read_text(encoding="utf-8")
    head, rest = card.split(START, 1)
    _, tail = rest.split(END, 1)
    card_path.write_text(f"{head}{START}\n{render(stats, precision, agreement)}\n{END}{tail}", encoding="utf-8")
    print(f"updated {card_path}")


if __name__ == "__main__":
    main()
