"""Careful-reading tooling: reader files are checked, reads combine into labels, agreement is right."""

from __future__ import annotations

import json

import pytest

from training.annotation import (
    Read,
    agreement_report,
    cohen_kappa,
    draw_articles,
    excerpt,
    final_labels,
    parse_reader_file,
    save_reads,
)
from training.train_classifier import agreeing_sections


def test_reader_file_is_checked_against_the_batch(tmp_path):
    good = tmp_path / "good.tsv"
    good.write_text("a1\thealth\t\na2\tgovernance\teconomy\na3\tother\t\n")
    assert parse_reader_file(good, ["a1", "a2", "a3"]) == [
        ("a1", "health", ""),
        ("a2", "governance", "economy"),
        ("a3", "other", ""),
    ]
    bad = tmp_path / "bad.tsv"
    bad.write_text("a1\tpolitics\t\na2\tlaw\tlaw\na2\tlaw\t\nzz\tsport\t\na4\tsport\tother\n")
    with pytest.raises(ValueError) as error:
        parse_reader_file(bad, ["a1", "a2", "a3", "a4"])
    message = str(error.value)
    for problem in (
        "'politics' is not one of",
        "second topic 'law'",
        "a2 repeated",
        "'zz' is not in the batch",
        "second topic 'other'",
        "1 ids of the batch have no line",
    ):
        assert problem in message


def test_reads_combine_agreed_adjudicated_or_pending():
    reads = [
        Read("x", "gold", "a", "law", "governance"),
        Read("x", "gold", "b", "law", ""),
        Read("y", "gold", "a", "law", ""),
        Read("y", "gold", "b", "governance", ""),
        Read("z", "gold", "a", "economy", ""),
        Read("z", "gold", "b", "health", ""),
        Read("t", "train", "a", "sport", ""),
    ]
    finals = final_labels(reads, {"y": {"id": "y", "label": "governance", "second": "law", "rule": "1"}})
    assert (finals["x"].label, finals["x"].second, finals["x"].reads) == ("law", "governance", 2)
    assert (finals["y"].label, finals["y"].second, finals["y"].adjudicated) == ("governance", "law", True)
    assert "z" not in finals  # readers disagree and nobody adjudicated yet
    assert finals["t"].reads == 1 and finals["t"].set == "train"
    with pytest.raises(ValueError):
        final_labels([Read("q", "gold", "a", "law"), Read("q", "train", "b", "law")], {})


def test_kappa_matches_a_hand_computed_value_and_agreement_report():
    first = ["a"] * 20 + ["b"] * 5 + ["a"] * 10 + ["b"] * 15
    second = ["a"] * 20 + ["a"] * 5 + ["b"] * 10 + ["b"] * 15
    # observed 35/50 = 0.7; expected (30*25 + 20*25)/2500 = 0.5; kappa = 0.4
    assert cohen_kappa(first, second) == pytest.approx(0.4)
    reads = [Read(str(i), "train", "r1", a) for i, a in enumerate(["law", "law", "health", "sport"])]
    reads += [Read(str(i), "train", "r2", b) for i, b in enumerate(["law", "governance", "health", "sport"])]
    report = agreement_report(reads)
    assert report["articles"] == 4 and report["agreement"] == 0.75
    assert report["per_label"]["law"] == {"either_reader": 2, "both_readers": 1, "agreement": 0.5, "kappa": 0.5}
    assert report["per_label"]["sport"]["kappa"] == 1.0


def test_draws_are_stable_when_quotas_grow_and_excerpts_cut_at_words():
    rows = [{"id": f"r{i}", "label": "health" if i % 2 else "sport", "split": "train"} for i in range(40)]
    small = draw_articles(rows, [{"name": "h", "quota": 5, "where": {"label": "health"}}], 1, set())
    large = draw_articles(rows, [{"name": "h", "quota": 8, "where": {"label": "health"}}], 1, set())
    assert [r["id"] for _, r in small] == [r["id"] for _, r in large][:5]
    assert all(r["label"] == "health" for _, r in large)
    excluded = draw_articles(rows, [{"name": "h", "quota": 8, "where": {"label": "health"}}], 1, {"r1", "r3"})
    assert not {"r1", "r3"} & {r["id"] for _, r in excluded}
    text = "kata " * 300
    cut = excerpt(text, 900)
    assert len(cut) <= 900 and cut.endswith("kata") and excerpt("  dua   kata ", 900) == "dua kata"


def test_sections_are_trusted_only_where_readers_agree():
    def row(section: str, publisher: str, label: str) -> dict:
        return {"source": "s", "section": section, "publisher_label": publisher, "label": label, "label_method": "read"}

    rows = [row("health", "health", "health")] * 9 + [row("health", "health", "lifestyle")]
    rows += [row("travel", "lifestyle", "world")] * 5 + [row("travel", "lifestyle", "lifestyle")] * 5
    rows += [row("bola", "sport", "sport")] * 3
    trusted = agreeing_sections(rows, min_reads=5, min_agreement=0.85)
    assert trusted == {("s", "health"): 0.9}  # travel agrees half the time; bola is read too rarely


def test_reads_round_trip_through_one_file_per_reader(tmp_path):
    from training.annotation import load_reads, save_reads

    reads = [
        Read("a", "gold", "r1", "law", "governance"),
        Read("a", "gold", "r2", "law"),
        Read("b", "train", "r1", "sport"),
    ]
    save_reads(tmp_path / "reads", reads)
    assert sorted(p.name for p in (tmp_path / "reads").iterdir()) == ["r1.tsv", "r2.tsv"]
    assert sorted(load_reads(tmp_path / "reads"), key=lambda r: (r.id, r.reader)) == reads
    save_reads(tmp_path / "one.tsv", reads)
    assert sorted(load_reads(tmp_path / "one.tsv"), key=lambda r: (r.id, r.reader)) == reads


def test_gold_metrics_topic_sets_top2_and_ece():
    import numpy as np

    from training.evaluate_classifier import probability_scores, set_f1

    assert set_f1([{0}, {0, 1}, {2}], [{0}, {0}, {0, 1}]) == pytest.approx((1 + 2 / 3 + 0) / 3)
    probs = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.1, 0.35, 0.55]])
    y = np.array([0, 0, 2])
    scores = probability_scores(y, probs, [{0}, {0}, {2, 1}], threshold=0.3)
    assert scores["top2_recall"] == 1.0  # the second article's label is its runner-up
    # topic sets: {0}, {1, 0}, {2, 1} -> F1 1, 2/3, 1
    assert scores["example_f1_topics"] == pytest.approx(round((1 + 2 / 3 + 1) / 3, 4))
    assert 0 <= scores["ece"] <= 1
    assert probability_scores(y, probs, [{0}, {0}, {2}], threshold=None)["example_f1_topics"] == pytest.approx(
        round(2 / 3, 4)
    )


def test_a_named_draw_is_made_once_and_recorded_as_ids(tmp_path, monkeypatch):
    """A second draw (`set:` train) draws only articles never read or drawn, writes its ids to
    draws/NAME.txt, and the next `batches` reuses that list (no redraw once readings came in)."""
    from datasets import Dataset, DatasetDict

    from training.annotation import cmd_batches

    rows = [
        {"id": f"a{i:03d}", "title": f"judul {i}", "text": f"isi berita nomor {i} " * 5,
         "source": "old" if i < 30 else "new", "is_aux": False, "label": "economy"}
        for i in range(60)
    ]  # fmt: skip
    DatasetDict({"train": Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "topics"))
    reads_dir = tmp_path / "reads"
    save_reads(reads_dir, [Read("a000", "train", "r1", "economy"), Read("a001", "train", "r1", "law")])
    files = {"reads": reads_dir, "adjudication": tmp_path / "adj.tsv", "agreement": tmp_path / "agreement.json",
             "batches": tmp_path / "batches", "draws": tmp_path / "draws"}  # fmt: skip
    config = {
        "seed": 3, "data_dir": str(tmp_path / "topics"), "excerpt_chars": 60, "batch_size": 8,
        "files": {k: str(v) for k, v in files.items()},
        "draw": {
            "train": {"strata": [{"name": "first", "quota": 2, "where": {"source": "old"}}]},
            "more": {"set": "train", "second_reads": 2,
                     "strata": [{"name": "m", "quota": 10, "where": {"source": "old"}}]},
        },
    }  # fmt: skip
    monkeypatch.chdir(tmp_path)
    cmd_batches(config)
    drawn = (tmp_path / "draws" / "more.txt").read_text().split()
    assert len(drawn) == 10 and not {"a000", "a001"} & set(drawn)
    assert all(int(i[1:]) < 30 for i in drawn)  # the stratum's source only
    manifest = json.loads((tmp_path / "batches" / "manifest.json").read_text())
    first_round = [i for name, e in manifest.items() if name.startswith("more-r1") for i in e["ids"]]
    assert sorted(first_round) == sorted(drawn) and {e["set"] for e in manifest.values()} == {"train"}
    assert sum(len(e["ids"]) for name, e in manifest.items() if name.startswith("more-r2")) == 2
    config["draw"]["more"]["strata"][0]["quota"] = 20  # a recorded draw is not drawn again
    cmd_batches(config)
    assert (tmp_path / "draws" / "more.txt").read_text().split() == drawn


def test_a_recheck_rereads_single_read_training_articles_and_reports_apart(tmp_path, monkeypatch):
    """A recheck writes second-reading batches for its ids only; held-out, double-read, validation (unless
    allowed), twice-listed ids and clashing names are refused before anything is written; its readings are
    recorded under its batch names and reported on their own, leaving the sets' and draws' figures as they were."""
    from datasets import Dataset, DatasetDict

    from training.annotation import cmd_adjudicate, cmd_agreement, cmd_batches, cmd_collect, cmd_sheet

    def rows(ids):
        return [{"id": f"a{i}", "title": f"judul {i}", "text": f"isi berita {i} " * 5, "source": "s", "year": 2020,
                 "is_aux": False, "label": "economy"} for i in ids]  # fmt: skip

    splits = {"train": Dataset.from_list(rows(range(6))), "validation": Dataset.from_list(rows([6]))}
    DatasetDict(splits).save_to_disk(str(tmp_path / "topics"))
    reads = [Read("a0", "train", "r1", "economy"), Read("a1", "train", "r1", "law"),
             Read("a2", "train", "r1", "sport"), Read("a2", "train", "r2", "sport"),
             Read("a3", "gold", "r1", "health"), Read("a4", "train", "r1", "world"),
             Read("a6", "train", "r1", "world")]  # fmt: skip
    save_reads(tmp_path / "reads", reads)
    names = ("reads", "adjudication", "agreement", "batches", "draws", "rechecks")
    config = {"seed": 3, "data_dir": str(tmp_path / "topics"), "excerpt_chars": 60, "batch_size": 8, "draw": {},
              "files": {k: str(tmp_path / k) for k in names} | {"adjudication": str(tmp_path / "adj.tsv"),
                                                               "agreement": str(tmp_path / "agr.json")},
              "recheck": {"rc": {"chosen_by": "a model"}, "gold": {"chosen_by": "x"}}}  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rechecks").mkdir()
    cases = {"a0\na2\n": "read once", "a0\na3\n": "read once", "a0\na5\n": "read once",  # double, gold, unread
             "a0\na6\n": "validation rows", "a0\na0\n": "listed twice"}  # fmt: skip
    for ids, message in cases.items():
        (tmp_path / "rechecks" / "rc.txt").write_text(ids)
        with pytest.raises(SystemExit, match=message):
            cmd_batches(config)
        assert not (tmp_path / "batches").exists()  # refused before anything was written
    (tmp_path / "rechecks" / "rc.txt").write_text("a0\n")
    for name, message in (("gold", "a set or draw has that name"), ("undescribed", "say how its list was chosen")):
        (tmp_path / "rechecks" / f"{name}.txt").write_text("a4\n")
        with pytest.raises(SystemExit, match=message):
            cmd_batches(config)
        (tmp_path / "rechecks" / f"{name}.txt").unlink()
    (tmp_path / "rechecks" / "other.txt").write_text("a0\n")
    config["recheck"]["other"] = {"chosen_by": "y"}
    with pytest.raises(SystemExit, match="listed twice"):
        cmd_batches(config)
    (tmp_path / "rechecks" / "other.txt").unlink()
    (tmp_path / "rechecks" / "rc.txt").write_text("a0\na1\n")
    with pytest.raises(SystemExit, match="at least one article"):
        cmd_batches(config, batch_size=0)
    cmd_batches(config, batch_size=1)
    manifest = json.loads((tmp_path / "batches" / "manifest.json").read_text())
    assert sorted(i for e in manifest.values() for i in e["ids"]) == ["a0", "a1"]
    assert set(manifest) == {"rc-r2-001", "rc-r2-002"} and all(e["recheck"] == "rc" for e in manifest.values())
    text = (tmp_path / "batches" / "rc-r2-001.txt").read_text()
    assert "JUDUL" in text and "economy" not in text and "law" not in text  # no earlier label shown
    for batch in manifest:
        labels = tmp_path / f"{batch}.tsv"
        labels.write_text(f"{manifest[batch]['ids'][0]}\teconomy\t\n")
        with pytest.raises(SystemExit, match="named after its batch"):
            cmd_collect(config, batch, labels, "rc-r2-999")
        cmd_collect(config, batch, labels, batch)
    cmd_batches(config)  # nothing left to read
    assert json.loads((tmp_path / "batches" / "manifest.json").read_text()) == {}
    (tmp_path / "draws").mkdir()
    (tmp_path / "draws" / "d.txt").write_text("a0\na1\na2\n")  # a draw holding rechecked articles
    report = cmd_agreement(config)
    assert report["overall"]["articles"] == 1 and report["overall"]["agreement"] == 1.0  # a2 only, as before
    assert report["per_draw"]["d"]["read"] == 3 and report["per_draw"]["d"]["double_read"]["articles"] == 1
    rc = report["per_recheck"]["rc"]
    assert (rc["chosen_by"], rc["articles"], rc["per_split"], rc["read_twice"]) == ("a model", 2, {"train": 2}, 2)
    assert rc["per_source_year"] == {"s 2020": 2} and rc["final_labels"] == {"economy": 1}  # a1 awaits a decision
    assert rc["double_read"]["agreement"] == 0.5
    assert (rc["awaiting_adjudication"], rc["final_label_changed"], rc["adjudicated"]) == (1, 0, 0)
    cmd_sheet(config, tmp_path / "sheet.txt")
    sheet = (tmp_path / "sheet.txt").read_text()
    assert "### a1" in sheet and "reader A" in sheet and "rc-r2" not in sheet and "r1:" not in sheet
    decisions = tmp_path / "decisions.tsv"
    for bad in ("a0\teconomy\t\t2\n", "a1\tpolitics\t\t2\n", "a1\teconomy\t\t\n", "\n"):
        decisions.write_text(bad)  # agreed already; unknown label; no rule; no decision at all
        with pytest.raises(SystemExit, match="not a disagreement|not one of|rule that decided|no decisions"):
            cmd_adjudicate(config, decisions)
    assert not (tmp_path / "adj.tsv").exists()  # nothing written when a line is unsound
    decisions.write_text("a1\teconomy\tgovernance\t2\n")
    cmd_adjudicate(config, decisions)
    assert (tmp_path / "adj.tsv").read_text() == "id\tlabel\tsecond\trule\na1\teconomy\tgovernance\t2\n"
    with pytest.raises(SystemExit, match="not a disagreement awaiting"):
        cmd_adjudicate(config, decisions)  # decided: only with --revisit
    (tmp_path / "again.txt").write_text("a1\n")
    decisions.write_text("a1\tlaw\t\t1\n")
    cmd_adjudicate(config, decisions, tmp_path / "again.txt")
    report = cmd_agreement(config)
    assert report["adjudicated_per_set"]["train"] == 0  # a recheck's disagreement, counted there
    rc = report["per_recheck"]["rc"]
    assert (rc["awaiting_adjudication"], rc["adjudicated"], rc["final_label_changed"]) == (0, 1, 0)  # law again
