"""Retrieval metrics on hand-made matrices whose answers are worked out by hand."""

import numpy as np
import pytest

from lavimo.eval.metrics import ground_truth_ranks, recall_metrics, retrieval_metrics


def test_ranks_count_higher_scores_and_average_ties():
    similarity = np.array([
        [0.9, 0.1, 0.2],   # ground truth first: rank 0
        [0.8, 0.5, 0.7],   # two items above: rank 2
        [0.3, 0.6, 0.6],   # tied with item 1 for the top: positions 0 and 1 -> 0.5
    ])
    np.testing.assert_allclose(ground_truth_ranks(similarity), [0.0, 2.0, 0.5])


def test_recall_and_median_rank_by_hand():
    ranks = np.array([0.0, 2.0, 0.5, 9.0, 12.0])
    metrics = recall_metrics(ranks)
    assert metrics["R@1"] == pytest.approx(40.0)  # 0 and 0.5
    assert metrics["R@2"] == pytest.approx(40.0)
    assert metrics["R@3"] == pytest.approx(60.0)
    assert metrics["R@10"] == pytest.approx(80.0)
    assert metrics["MedR"] == pytest.approx(3.0)  # median 2 + 1


def test_reverse_direction_is_the_transpose():
    similarity = np.array([[0.9, 0.95], [0.1, 0.99]])
    assert retrieval_metrics(similarity)["R@1"] == pytest.approx(50.0)  # query 0 loses to item 1
    assert retrieval_metrics(similarity.T)["R@1"] == pytest.approx(100.0)  # item 0 still prefers query 0


def test_all_tied_rows_give_the_middle_rank():
    ranks = ground_truth_ranks(np.ones((4, 4)))
    np.testing.assert_allclose(ranks, 1.5)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="square"):
        ground_truth_ranks(np.zeros((2, 3)))
