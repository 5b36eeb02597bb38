"""Bootstrap intervals: how much a macro-F1 moves with which articles were drawn."""

from __future__ import annotations

import numpy as np

from training.model_card import classifier_eval_tables
from training.resampling import bootstrap_macro_f1, interval


def test_intervals_are_exact_for_a_perfect_model_and_contain_the_figure_otherwise():
    y = np.repeat(np.arange(4), 50)
    perfect = bootstrap_macro_f1(y, [y], 100)
    assert perfect.shape == (100, 1) and interval(perfect[:, 0]) == [1.0, 1.0]
    noisy = y.copy()
    noisy[::4] = (y[::4] + 1) % 4  # a quarter wrong
    draws = bootstrap_macro_f1(y, [noisy, noisy, y], 200)
    np.testing.assert_array_equal(draws[:, 0], draws[:, 1])  # the same draws for every prediction array
    low, high = interval(draws[:, 0])
    assert low < 0.75 < high < 1.0
    assert (draws[:, 2] == 1.0).all()
    again = bootstrap_macro_f1(y, [noisy], 200)  # seeded: a report regenerates the same interval
    np.testing.assert_array_equal(again[:, 0], draws[:, 0])


def test_the_card_states_the_interval_beside_the_figure():
    row = {"rows": 1465, "accuracy": 0.92, "macro_f1": 0.9139, "per_label": {"sport": {"f1": 0.98}}}
    model = row | {
        "macro_f1_interval": [0.9012, 0.9251],
        "bootstrap_resamples": 1000,
        "per_label": {"sport": {"precision": 0.99, "recall": 0.97, "f1": 0.98, "support": 100}},
    }
    keys = ("tfidf_careful_labels", "tfidf_publisher_labels", "publisher_labels")
    tables = classifier_eval_tables({"model": model} | {key: row for key in keys})
    assert "macro-F1 0.9139 has a 95 % bootstrap interval of [0.9012, 0.9251] (1,000 resamples of these 1,465" in tables
    older = {k: v for k, v in model.items() if k not in ("macro_f1_interval", "bootstrap_resamples")}
    assert "bootstrap interval" not in classifier_eval_tables({"model": older} | {key: row for key in keys})


def test_every_draw_averages_over_the_labels_of_the_whole_set():
    y = np.array([0] * 60 + [1] * 39 + [2])  # label 2: one article, absent from most draws
    pred = y.copy()
    pred[:6] = 1
    draws = bootstrap_macro_f1(y, [pred], 100)
    np.testing.assert_array_equal(draws, bootstrap_macro_f1(y, [pred], 100, labels=[0, 1, 2]))
    # A draw without label 2 scores it 0 (no row, no prediction), so the figure cannot pass the two-label best
    assert draws[:, 0].min() < 0.7
