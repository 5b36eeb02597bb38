"""Careful-reading annotation: batches to read, reader files checked in, agreement, final labels.

    python -m training.annotation batches  [--top-up] [--batch-size N]  # draw, write
    python -m training.annotation collect  --batch NAME --labels FILE --reader R  # check + record
    python -m training.annotation sheet    [--out build/annotation/adjudicate.txt] [--revisit IDS]  # disagreements
    python -m training.annotation adjudicate --labels FILE [--revisit IDS]     # check + record decisions
    python -m training.annotation agreement                                      # agreement + kappa

A batch is a text file of excerpts (id, title, first ~900 characters of the cleaned body): no
publisher label, no model output, no other reader's label (docs/annotation.md). Batches hold raw
text and stay in ``build/``. What is committed is ids and labels only:

- ``docs/annotations/reads/<reader>.tsv``: one line per reading — ``id, set, reader, label, second``;
  ``set`` is ``train``, ``gold`` (June-2025 test, every article read twice) or ``calibration``.
- ``docs/annotations/adjudication.tsv``: ``id, label, second, rule`` for the double-read articles
  whose readers disagreed, decided by the guide (``rule`` names the boundary rule used).

A *recheck* (``files.rechecks/NAME.txt``, ids only; ``recheck.NAME`` in the config says how the list was
chosen) gives single-read articles of the train set a second, independent reading (readers ``NAME-r2-NNN``);
disagreements are adjudicated as usual. The list may be chosen by a model (the reads a model trained on
them still labels otherwise): the second reader sees no label and no model output, so nothing but reading
decides; validation rows may be on a list only when no model chose it (``validation: true``). The
recheck readings are left out of the agreement figures of the sets and draws and reported on their own.

Nothing here chooses a label: the code draws articles, checks reader files and combines labels
that readers wrote.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from service.config import load_labels
from training.config import load_config, load_yaml, project_path

logger = logging.getLogger(__name__)

OTHER = "other"
SETS = ("train", "gold", "calibration", "transfer")
READS_COLUMNS = ["id", "set", "reader", "label", "second"]
ADJUDICATION_COLUMNS = ["id", "label", "second", "rule"]


def allowed_labels() -> list[str]:
    """The 11 taxonomy keys plus ``other`` (none of them fits)."""
    return [label.key for label in load_labels()] + [OTHER]


@dataclass(frozen=True)
class Read:
    """One reader's decision on one article."""

    id: str
    set: str
    reader: str
    label: str
    second: str = ""


@dataclass(frozen=True)
class FinalLabel:
    """The label an article carries after reading (and adjudication where readers disagreed)."""

    id: str
    set: str
    label: str
    second: str
    reads: int
    adjudicated: bool


# --- files -------------------------------------------------------------------------------------


def _read_tsv(path: Path, columns: list[str]) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if reader.fieldnames != columns:
            raise ValueError(f"{path}: expected the columns {columns}, found {reader.fieldnames}")
        return [{k: (v or "") for k, v in row.items()} for row in reader]


def _write_tsv(path: Path, columns: list[str], rows: Iterable[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def load_reads(path: Path) -> list[Read]:
    """All readings: ``path`` is a TSV file, or a folder of them (one file per reader)."""
    files = sorted(path.glob("*.tsv")) if path.is_dir() else [path]
    return [Read(**row) for file in files for row in _read_tsv(file, READS_COLUMNS)]


def save_reads(path: Path, reads: list[Read]) -> None:
    """Write readings to a TSV file or, for a path without suffix, one file per reader in that folder."""
    by_file: dict[Path, list[Read]] = defaultdict(list)
    for read in reads:
        by_file[path / f"{read.reader}.tsv" if not path.suffix else path].append(read)
    for file, group in by_file.items():
        ordered = sorted(group, key=lambda r: (r.set, r.id, r.reader))
        _write_tsv(file, READS_COLUMNS, ({c: getattr(r, c) for c in READS_COLUMNS} for r in ordered))


def load_adjudication(path: Path) -> dict[str, dict[str, str]]:
    """``id -> row`` of adjudicated labels; a label outside the taxonomy is an error."""
    rows = {row["id"]: row for row in _read_tsv(path, ADJUDICATION_COLUMNS)}
    allowed = set(allowed_labels())
    bad = [i for i, r in rows.items() if r["label"] not in allowed or (r["second"] and r["second"] not in allowed)]
    if bad:
        raise ValueError(f"{path}: labels outside the taxonomy for {bad[:3]}")
    return rows


def labelled_lines(path: Path, fields: int) -> Iterator[tuple[list[str], list[str]]]:
    """``(cells, problems)`` per line of a labels file (a header and blank lines skipped): ``fields``
    tab-separated cells (id, label, second, …), labels lower-cased; problems: more cells, a label outside
    the taxonomy, ``other`` or the main label as second topic."""
    allowed = set(allowed_labels())
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip() or line.lower().startswith("id\t"):
            continue
        cells = [c.strip() for c in line.split("\t")]
        problems = [f"line {number}: more than {fields} fields"] if any(cells[fields:]) else []
        cells = (cells + [""] * fields)[:fields]
        cells[1], cells[2] = cells[1].lower(), cells[2].lower()
        if cells[1] not in allowed:
            problems.append(f"line {number}: label {cells[1]!r} is not one of {sorted(allowed)}")
        if cells[2] and (cells[2] not in allowed or cells[2] in (OTHER, cells[1])):
            problems.append(f"line {number}: second topic {cells[2]!r} must be another taxonomy key")
        yield [f"line {number}", *cells], problems


def parse_reader_file(path: Path, expected_ids: list[str]) -> list[tuple[str, str, str]]:
    """``(id, label, second)`` lines of a reader's file, checked against the batch.

    Raises ``ValueError`` naming every problem: unknown or repeated ids, missing ids, labels
    outside the taxonomy, ``other`` or the main label as second topic.
    """
    expected = set(expected_ids)
    problems, rows, seen = [], [], set()
    for (where, article_id, label, second), line_problems in labelled_lines(path, 3):
        problems += line_problems
        if article_id not in expected:
            problems.append(f"{where}: id {article_id!r} is not in the batch")
        elif article_id in seen:
            problems.append(f"{where}: id {article_id} repeated")
        seen.add(article_id)
        rows.append((article_id, label, second))
    missing = expected - seen
    if missing:
        problems.append(f"{len(missing)} ids of the batch have no line, e.g. {sorted(missing)[:3]}")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems[:20]))
    return rows


def _by_id(reads: Iterable[Read], sets: Iterable[str] | None = None) -> dict[str, list[Read]]:
    """Readings grouped per article (only those of ``sets`` when given)."""
    wanted = set(sets) if sets else set(SETS)
    grouped: dict[str, list[Read]] = defaultdict(list)
    for read in reads:
        if read.set in wanted:
            grouped[read.id].append(read)
    return grouped


def _second_of(reads: list[Read], label: str) -> str:
    """A second topic kept when a reader recorded it and no reader recorded a different one."""
    seconds = {r.second for r in reads if r.second and r.second != label}
    return seconds.pop() if len(seconds) == 1 else ""


def final_labels(reads: list[Read], adjudication: dict[str, dict[str, str]]) -> dict[str, FinalLabel]:
    """One label per article: the readers' label where they agree, the adjudicated one where not.

    A double-read article whose readers disagree and that has no adjudication yet gets no label.
    """
    out = {}
    for article_id, group in _by_id(reads).items():
        sets = {r.set for r in group}
        if len(sets) > 1:
            raise ValueError(f"article {article_id} is recorded in several sets: {sorted(sets)}")
        mains = {r.label for r in group}
        if len(mains) == 1:
            label = group[0].label
            out[article_id] = FinalLabel(article_id, group[0].set, label, _second_of(group, label), len(group), False)
        elif article_id in adjudication:
            row = adjudication[article_id]
            out[article_id] = FinalLabel(article_id, group[0].set, row["label"], row["second"], len(group), True)
    return out


def disagreements(reads: list[Read]) -> dict[str, list[Read]]:
    return {i: g for i, g in _by_id(reads).items() if len({r.label for r in g}) > 1}


# --- agreement -------------------------------------------------------------------------------


def cohen_kappa(first: list[str], second: list[str]) -> float:
    """Cohen's kappa of two readers' labels on the same items."""
    n = len(first)
    if n == 0:
        return float("nan")
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    count_a, count_b = Counter(first), Counter(second)
    expected = sum(count_a[k] * count_b[k] for k in count_a) / (n * n)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def pairs(reads: list[Read], sets: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """(first reading, second reading) main labels of every double-read article, readers ordered by name."""
    out = []
    for group in _by_id(reads, sets).values():
        if len(group) >= 2:
            a, b = sorted(group, key=lambda r: r.reader)[:2]
            out.append((a.label, b.label))
    return out


def agreement_report(reads: list[Read], sets: Iterable[str] | None = None) -> dict:
    """Observed agreement and Cohen's kappa, overall and per label (label vs not-label)."""
    both = pairs(reads, sets)
    first, second = [a for a, _ in both], [b for _, b in both]
    report = {
        "articles": len(both),
        "agreement": round(sum(a == b for a, b in both) / len(both), 4) if both else None,
        "kappa": round(cohen_kappa(first, second), 4) if both else None,
        "per_label": {},
    }
    for label in allowed_labels():
        a = [x == label for x in first]
        b = [x == label for x in second]
        either = sum(x or y for x, y in zip(a, b, strict=True))
        if not either:
            continue
        both_readers = sum(x and y for x, y in zip(a, b, strict=True))
        report["per_label"][label] = {
            "either_reader": either,
            "both_readers": both_readers,
            "agreement": round(both_readers / either, 4),
            "kappa": round(cohen_kappa([str(x) for x in a], [str(x) for x in b]), 4),
        }
    return report


# --- drawing batches -------------------------------------------------------------------------


def excerpt(text: str, chars: int) -> str:
    """The first ``chars`` characters of the body, cut at a word boundary, whitespace folded."""
    flat = " ".join(text.split())
    if len(flat) <= chars:
        return flat
    cut = flat[:chars]
    return cut[: cut.rfind(" ")] if " " in cut[chars // 2 :] else cut


def _rank(seed: int, key: str, article_id: str) -> str:
    return hashlib.sha256(f"{seed}:{key}:{article_id}".encode()).hexdigest()


def _matches(row: dict, where: dict) -> bool:
    for field, wanted in where.items():
        values = wanted if isinstance(wanted, list) else [wanted]
        if str(row.get(field)) not in map(str, values):
            return False
    return True


def draw_articles(rows: list[dict], strata: list[dict], seed: int, exclude: set[str]) -> list[tuple[str, dict]]:
    """``(stratum name, row)`` pairs: each stratum takes its quota in seeded-hash order.

    Hash order keeps a draw stable when quotas grow: the first n of a stratum are always the same.
    """
    taken = set(exclude)
    chosen = []
    for stratum in strata:
        group = [r for r in rows if r["id"] not in taken and _matches(r, stratum.get("where", {}))]
        group.sort(key=lambda r: _rank(seed, stratum["name"], r["id"]))
        for row in group[: stratum["quota"]]:
            taken.add(row["id"])
            chosen.append((stratum["name"], row))
        if len(group) < stratum["quota"]:
            logger.info("stratum %s: %d of %d available", stratum["name"], len(group), stratum["quota"])
    return chosen


def excerpt_block(row: dict, chars: int, reads: str = "") -> str:
    """One article as a reader sees it: id, (for adjudication, the readings,) title, excerpt."""
    reads_line = f"READS: {reads}\n" if reads else ""
    title = " ".join(row["title"].split())
    return f"### {row['id']}\n{reads_line}JUDUL: {title}\nTEKS: {excerpt(row['text'], chars)}\n"


def write_batch(path: Path, rows: list[dict], chars: int) -> None:
    """The reader's view: id, title and excerpt — nothing else."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(excerpt_block(row, chars) for row in rows), encoding="utf-8")


# --- commands --------------------------------------------------------------------------------


def _paths(config: dict) -> dict[str, Path]:
    return {k: project_path(v) for k, v in config["files"].items()}


def load_rechecks(config: dict) -> dict[str, list[str]]:
    """Each recheck's ids (``files.rechecks/NAME.txt``), by name; {} when there are none.

    Every recheck must say in the config (``recheck.NAME.chosen_by``) how its list was chosen; its name may
    not be a set's or a draw's (its batches and readers are ``NAME-r2-NNN``), and no id may be listed twice
    (in one list or two)."""
    folder = project_path(config["files"]["rechecks"]) if "rechecks" in config["files"] else None
    if folder is None or not folder.exists():
        return {}
    rechecks = {f.stem: f.read_text(encoding="utf-8-sig").split() for f in sorted(folder.glob("*.txt"))}
    described = config.get("recheck") or {}
    taken = {*SETS, *config.get("draw", {})}  # their batches and readers are NAME-rN-NNN too
    for name in rechecks:
        if not (described.get(name) or {}).get("chosen_by"):
            raise SystemExit(f"error: recheck {name}: say how its list was chosen (recheck.{name}.chosen_by)")
        if name in taken:
            raise SystemExit(f"error: recheck {name}: a set or draw has that name (their batches would clash)")
    listed = Counter(i for ids in rechecks.values() for i in ids)
    twice = sorted(i for i, n in listed.items() if n > 1)
    if twice:
        raise SystemExit(f"error: {len(twice)} ids are listed twice in the rechecks, e.g. {twice[0]}")
    return rechecks


def recheck_reader(name: str) -> re.Pattern[str]:
    """The readers of recheck ``name``: one per batch, named after it."""
    return re.compile(rf"{re.escape(name)}-r2-\d{{3}}")


def recheck_readers(reads: Iterable[Read], rechecks: Iterable[str]) -> set[str]:
    """The readers, among ``reads``, of any of ``rechecks``."""
    patterns = [recheck_reader(name) for name in rechecks]
    return {r.reader for r in reads if any(p.fullmatch(r.reader) for p in patterns)}


def recheck_batches(config: dict, reads: list[Read], by_id: dict[str, dict], batch_size: int) -> dict[str, dict]:
    """Write the second readings rechecks still need (``NAME-r2-NNN``); return their manifest entries.

    Only articles read once, in the ``train`` annotation set, can be rechecked: held-out sets (gold,
    calibration, transfer) are never re-read from a chosen list, and double-read articles already had their
    check. Rows of the validation split are refused unless the recheck's config says ``validation: true``
    (a list chosen without a model, e.g. by the first label: re-reading validation rows a model picked would
    bend validation towards that model). Everything is checked before any batch is written."""
    described = config.get("recheck") or {}
    plan = []
    by_article = _by_id(reads)
    for name, ids in load_rechecks(config).items():
        pattern = recheck_reader(name)
        earlier = {i: [r for r in by_article.get(i, ()) if not pattern.fullmatch(r.reader)] for i in ids}
        problems = [i for i, rs in earlier.items() if len(rs) != 1 or rs[0].set != "train" or i not in by_id]
        if problems:
            raise SystemExit(
                f"error: recheck {name}: only articles of the corpus read once, in the train set, can be rechecked "
                f"({len(problems)} are not, e.g. {problems[0]})"
            )
        validation = sorted(i for i in ids if by_id[i].get("split") == "validation")
        if validation and not described[name].get("validation"):
            raise SystemExit(
                f"error: recheck {name}: {len(validation)} ids are validation rows (e.g. {validation[0]}); "
                f"only a list chosen without a model may re-read them (recheck.{name}.validation: true)"
            )
        todo = [i for i in ids if len(by_article[i]) == 1]
        plan.append((name, sorted(todo, key=lambda i: _rank(config["seed"], name, i)), len(ids)))
    manifest = {}
    for name, todo, listed in plan:
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            batch = f"{name}-r2-{start // batch_size + 1:03d}"
            write_batch(
                project_path(config["files"]["batches"]) / f"{batch}.txt",
                [by_id[i] for i in chunk],
                config["excerpt_chars"],
            )
            manifest[batch] = {"set": "train", "round": 2, "ids": chunk, "recheck": name}
        logger.info("recheck %s: %d ids, %d awaiting their second reading", name, listed, len(todo))
    return manifest


def cmd_batches(config: dict, top_up: bool = False, batch_size: int | None = None) -> None:
    from datasets import load_from_disk

    batch_size = config["batch_size"] if batch_size is None else batch_size
    if batch_size < 1:
        raise SystemExit(f"error: a batch holds at least one article, not {batch_size}")
    paths = _paths(config)
    topics = load_from_disk(str(project_path(config["data_dir"])))
    rows = [{**r, "split": split} for split in topics for r in topics[split].to_list() if not r["is_aux"]]
    reads = load_reads(paths["reads"])
    rechecked = recheck_batches(config, reads, {r["id"]: r for r in rows}, batch_size)  # checked before any draw
    read_by: dict[str, set[str]] = defaultdict(set)
    for read in reads:
        read_by[read.id].add(read.reader)
    already = set(read_by)
    seed = config["seed"]
    plan: dict[str, dict] = {}
    by_id = {r["id"]: r for r in rows}
    draws_dir = paths["draws"]
    recorded = {f.stem: f.read_text().split() for f in sorted(draws_dir.glob("*.txt"))} if draws_dir.exists() else {}
    in_recorded = {i for ids in recorded.values() for i in ids}
    # A draw is made once. A named draw (``set:`` given, or a set first drawn after this rule) records
    # its ids in ``draws/NAME.txt`` (committed: ids only) and is never drawn again. The first draws of
    # train, gold and calibration predate that file: a set that already has readings is not drawn
    # again — `batches` then only writes the readings still missing (e.g. second readings) — unless
    # `top_up` asks for more: each of its strata then adds its quota of articles never read before.
    for draw_name, spec in config["draw"].items():
        set_name = spec.get("set", draw_name)
        if set_name not in SETS:
            raise ValueError(f"draw {draw_name}: set {set_name!r} is not one of {SETS}")
        legacy = draw_name in ("train", "gold", "calibration")
        if draw_name in recorded:
            ids, new = recorded[draw_name], []
        else:
            earlier = sorted({r.id for r in reads if r.set == set_name} - in_recorded) if legacy else []
            drawn = legacy and bool(earlier) and not top_up
            new = [] if drawn else draw_articles(rows, spec["strata"], seed, exclude=already | in_recorded)
            ids = earlier + [row["id"] for _, row in new]
            if not legacy:
                draws_dir.mkdir(parents=True, exist_ok=True)
                (draws_dir / f"{draw_name}.txt").write_text("".join(f"{i}\n" for i in ids))
                in_recorded |= set(ids)
        # `second_reads`: how many of the draw (hash order, so stable) get a second, independent reading.
        twice = set(sorted(ids, key=lambda i: _rank(seed, "second", i))[: spec.get("second_reads", len(ids))])
        plan[draw_name] = {"set": set_name, "ids": ids, "twice": twice, "strata": Counter(name for name, _ in new)}
    # Round 1: every article of the set; round 2: the `twice` ones. Readings still missing become
    # batches; the two readings of an article are in different batches (different readers).
    out_dir = paths["batches"]
    manifest = {}
    for set_name, item in plan.items():
        for round_index in range(2):
            wanted = item["ids"] if round_index == 0 else [i for i in item["ids"] if i in item["twice"]]
            todo = [i for i in wanted if len(read_by.get(i, ())) <= round_index]
            todo.sort(key=lambda i: _rank(seed, f"order{round_index}", i))
            for start in range(0, len(todo), batch_size):
                chunk = todo[start : start + batch_size]
                name = f"{set_name}-r{round_index + 1}-{start // batch_size + 1:03d}"
                write_batch(out_dir / f"{name}.txt", [by_id[i] for i in chunk], config["excerpt_chars"])
                manifest[name] = {"set": item["set"], "round": round_index + 1, "ids": chunk}
    manifest |= rechecked
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))
    summary = {
        name: {
            "set": p["set"],
            "articles": len(p["ids"]),
            "read_twice": len(p["twice"]),
            "newly_drawn_by_stratum": dict(p["strata"]),
        }
        for name, p in plan.items()
    }
    print(json.dumps(summary, indent=1))
    print(f"{len(manifest)} batches in {out_dir} ({len(already)} articles already read)")


def cmd_collect(config: dict, batch: str, labels_file: Path, reader: str) -> None:
    paths = _paths(config)
    manifest = json.loads((paths["batches"] / "manifest.json").read_text())
    if batch not in manifest:
        raise SystemExit(f"error: no batch {batch!r} in the manifest")
    entry = manifest[batch]
    if "recheck" in entry and reader != batch:
        raise SystemExit(f"error: a recheck's reader is named after its batch ({batch}), not {reader}")
    rows = parse_reader_file(labels_file, entry["ids"])
    reads = load_reads(paths["reads"])
    earlier = {(r.id, r.reader) for r in reads}
    clashes = [i for i, _, _ in rows if (i, reader) in earlier]
    if clashes:
        raise SystemExit(f"error: reader {reader} already read {len(clashes)} of these ids (e.g. {clashes[0]})")
    reads += [Read(i, entry["set"], reader, label, second) for i, label, second in rows]
    save_reads(paths["reads"], reads)
    print(f"recorded {len(rows)} reads of batch {batch} by {reader}: {dict(Counter(label for _, label, _ in rows))}")


def cmd_sheet(config: dict, out: Path, revisit: Path | None = None) -> None:
    """Write the adjudication sheet: each disagreement with both labels and the excerpt; with
    ``revisit``, a file of ids, also those disagreements already decided (to decide again after the
    guide changed: the new decision replaces the old row in the adjudication file)."""
    from datasets import load_from_disk

    paths = _paths(config)
    reads = load_reads(paths["reads"])
    decided = load_adjudication(paths["adjudication"])
    again = set(revisit.read_text().split()) if revisit else set()
    todo = {i: g for i, g in disagreements(reads).items() if i not in decided or i in again}
    topics = load_from_disk(str(project_path(config["data_dir"])))
    texts = {}
    for split in topics:
        for row in topics[split].select_columns(["id", "title", "text"]).to_list():
            if row["id"] in todo:
                texts[row["id"]] = row
    blocks = []
    for article_id in sorted(todo, key=lambda i: (todo[i][0].set, i)):
        # readers shown as A, B … in hashed order: a name could tell which reading came from a recheck
        shuffled = sorted(todo[article_id], key=lambda r: _rank(config["seed"], "sheet", r.reader))
        labels = " | ".join(
            f"reader {chr(65 + k)}: {r.label}" + (f" (+{r.second})" if r.second else "") for k, r in enumerate(shuffled)
        )
        blocks.append(excerpt_block(texts[article_id], config["excerpt_chars"], labels))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(blocks), encoding="utf-8")
    print(f"{len(todo)} disagreements to adjudicate: {out}")


def cmd_adjudicate(config: dict, decisions: Path, revisit: Path | None = None) -> None:
    """Record an adjudicator's file (``id, label, second, rule`` per line) for disagreements awaiting a
    decision (with ``revisit``, also those decided before, whose row is replaced). Every line is checked
    first; nothing is written unless all are sound."""
    paths = _paths(config)
    decided = load_adjudication(paths["adjudication"])
    again = set(revisit.read_text().split()) if revisit else set()
    pending = {i for i in disagreements(load_reads(paths["reads"])) if i not in decided or i in again}
    problems, rows = [], {}
    for (where, article_id, label, second, rule), line_problems in labelled_lines(decisions, 4):
        problems += line_problems
        if article_id not in pending:
            problems.append(f"{where}: {article_id!r} is not a disagreement awaiting a decision")
        elif article_id in rows:
            problems.append(f"{where}: {article_id} repeated")
        if not rule:
            problems.append(f"{where}: the rule that decided is missing (id, label, second, rule)")
        rows[article_id] = {"id": article_id, "label": label, "second": second, "rule": rule}
    if not rows:
        problems.append("no decisions in the file")
    if problems:
        raise SystemExit(f"error: {decisions}: " + "; ".join(problems[:20]))
    merged = decided | rows
    _write_tsv(paths["adjudication"], ADJUDICATION_COLUMNS, (merged[i] for i in sorted(merged)))
    left = len(pending - set(rows) - set(decided))
    print(f"recorded {len(rows)} decisions ({len(set(rows) & set(decided))} replaced); {left} still awaiting")


def draw_report(
    config: dict, reads: list[Read], finals: dict[str, FinalLabel], left_out: frozenset[str] = frozenset()
) -> dict:
    """Per named draw (``files.draws``): articles, final labels, agreement and kappa of its double
    reads (readings by the ``left_out`` readers, the rechecks', not counted), and (when the corpus is built)
    its articles per source and year."""
    draws_dir = _paths(config)["draws"]
    if not draws_dir.exists():
        return {}
    drawn = {f.stem: set(f.read_text().split()) for f in sorted(draws_dir.glob("*.txt"))}
    where = {i: place["source_year"] for i, place in corpus_places(config, set().union(*drawn.values())).items()}
    report = {}
    for name, ids in drawn.items():
        own = [r for r in reads if r.id in ids]
        report[name] = {
            "articles": len(ids),
            "read": len({r.id for r in own}),
            "final_labels": dict(Counter(finals[i].label for i in sorted(ids) if i in finals).most_common()),
            "double_read": agreement_report([r for r in own if r.reader not in left_out]),
            "per_source_year": dict(sorted(Counter(where[i] for i in ids if i in where).items())),
        }
        report[name]["double_read"].pop("per_label")
    return report


def recheck_report(
    name: str, ids: list[str], reads: list[Read], finals: dict[str, FinalLabel], where: dict[str, dict[str, str]]
) -> dict:
    """A recheck: articles (per corpus split when built), how many have their second reading, agreement and
    kappa of the two readings, disagreements adjudicated or awaiting, and how many final main labels differ
    from the first reading's."""
    listed = set(ids)
    own = [r for r in reads if r.id in listed]
    pattern = recheck_reader(name)
    first = {r.id: r.label for r in own if not pattern.fullmatch(r.reader)}
    report = {"articles": len(listed), "read_twice": len(pairs(own)), "double_read": agreement_report(own)}
    report["double_read"].pop("per_label")
    report["final_labels"] = dict(Counter(finals[i].label for i in sorted(ids) if i in finals).most_common())
    if where:
        for key in ("split", "source_year"):
            report[f"per_{key}"] = dict(sorted(Counter(where.get(i, {}).get(key, "-") for i in ids).items()))
    report["adjudicated"] = sum(1 for i in listed if i in finals and finals[i].adjudicated)
    report["awaiting_adjudication"] = len([i for i in disagreements(own) if i not in finals])
    report["final_label_changed"] = sum(1 for i in listed if i in finals and finals[i].label != first.get(i))
    return report


def load_agreement(config_path: str | Path = "configs/annotation.yaml") -> dict:
    """The agreement report ``agreement`` last wrote ({} before any reading)."""
    path = project_path(load_yaml(project_path(config_path))["files"]["agreement"])
    return json.loads(path.read_text()) if path.exists() else {}


def corpus_places(config: dict, ids: set[str]) -> dict[str, dict[str, str]]:
    """Each of ``ids``' corpus split and ``source year`` ({} before the corpus is built)."""
    data_dir = project_path(config["data_dir"])
    if not ids or not data_dir.exists():
        return {}
    from datasets import load_from_disk

    topics = load_from_disk(str(data_dir))
    return {
        row["id"]: {"split": split, "source_year": f"{row['source']} {row['year']}"}
        for split in topics
        for row in topics[split].select_columns(["id", "source", "year"]).to_list()
        if row["id"] in ids
    }


def cmd_agreement(config: dict) -> dict:
    paths = _paths(config)
    every = load_reads(paths["reads"])
    finals = final_labels(every, load_adjudication(paths["adjudication"]))
    rechecks = load_rechecks(config)
    second = recheck_readers(every, rechecks)
    reads = [r for r in every if r.reader not in second]  # the readings as drawn; rechecks are reported apart
    places = corpus_places(config, set().union(*rechecks.values()))
    report = {
        "overall": agreement_report(reads),
        "per_set": {s: agreement_report(reads, [s]) for s in SETS},
        "final_labels_per_set": {
            s: dict(Counter(f.label for f in finals.values() if f.set == s).most_common()) for s in SETS
        },
        "with_second_topic_per_set": {s: sum(1 for f in finals.values() if f.set == s and f.second) for s in SETS},
        "double_read_per_set": {s: len(pairs(reads, [s])) for s in SETS},
        "adjudicated_per_set": {  # disagreements of the readings as drawn (rechecks': in per_recheck)
            s: sum(1 for i in disagreements(reads) if i in finals and finals[i].set == s) for s in SETS
        },
        "awaiting_adjudication": len([i for i in disagreements(every) if i not in finals]),
        "readers": dict(Counter(r.reader for r in every)),
        "per_draw": draw_report(config, every, finals, frozenset(second)),
        "per_recheck": {
            name: {"chosen_by": config["recheck"][name]["chosen_by"]} | recheck_report(name, ids, every, finals, places)
            for name, ids in rechecks.items()
        },
    }
    paths["agreement"].write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["batches", "collect", "sheet", "adjudicate", "agreement"])
    parser.add_argument("--config", default="configs/annotation.yaml")
    parser.add_argument("--batch")
    parser.add_argument("--labels", type=Path)
    parser.add_argument("--reader")
    parser.add_argument("--out", type=Path, default=Path("build/annotation/adjudicate.txt"))
    parser.add_argument("--top-up", action="store_true", help="batches: draw more for sets that have a draw")
    parser.add_argument("--batch-size", type=int, help="batches: articles per batch (default: the config's)")
    parser.add_argument("--revisit", type=Path, help="sheet/adjudicate: ids of decided disagreements to decide again")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = load_config(project_path(args.config))
    if args.command == "batches":
        cmd_batches(config, args.top_up, args.batch_size)
    elif args.command == "collect":
        if not (args.batch and args.labels and args.reader):
            parser.error("collect needs --batch, --labels and --reader")
        cmd_collect(config, args.batch, args.labels, args.reader)
    elif args.command == "adjudicate":
        if not args.labels:
            parser.error("adjudicate needs --labels (id, label, second, rule per line)")
        cmd_adjudicate(config, args.labels, args.revisit and project_path(args.revisit))
    elif args.command == "sheet":
        cmd_sheet(config, project_path(args.out), args.revisit and project_path(args.revisit))
    else:
        cmd_agreement(config)


if __name__ == "__main__":
    main()
