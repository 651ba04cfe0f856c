"""Retrieval metrics on hand-made matrices whose answers are worked out by hand."""

import numpy as np
import pytest

from lavimo.eval.metrics import ground_truth_ranks, recall_metrics, retrieval_metrics


def test_ranks_count_higher_scores_and_average_ties():
    similarity = np.array(
        [
            [0.9, 0.1, 0.2],  # ground truth first: rank 0
            [0.8, 0.5, 0.7],  # two items above: rank 2
            [0.3, 0.6, 0.6],  # tied with item 1 for the top: positions 0 and 1 -> 0.5
        ]
    )
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


# Threshold protocol. Captions: pairs 0 and 1 share a caption; caption 3 is halfway between captions 0 and 2.
#   caption score (cos + 1) / 2:  s0~s1: 1.0   s0~s3 = s1~s3 = s2~s3: (0.7071 + 1) / 2 = 0.854   s0~s2: 0.5
#   threshold 0.95 -> only 0~1 match;  threshold 0.8 -> also 0~3, 1~3, 2~3.
CAPTIONS = np.array(
    [
        [3.0, 0.0],  # not unit: normalised first
        [1.0, 0.0],
        [0.0, 1.0],
        [1.0, 1.0],
    ]
)
SIMILARITY = np.array(
    [
        [0.2, 0.9, 0.1, 0.5],
        [0.7, 0.3, 0.6, 0.8],
        [0.4, 0.4, 0.4, 0.9],
        [0.6, 0.1, 0.6, 0.5],
    ]
)


def test_plain_ranks_of_the_threshold_matrix():
    # row 0: 0.9, 0.5 above 0.2 -> 2; row 1: 0.7, 0.6, 0.8 above 0.3 -> 3;
    # row 2: 0.9 above, two others tied at 0.4 -> 1 + 1 = 2; row 3: 0.6, 0.6 above 0.5 -> 2
    np.testing.assert_allclose(ground_truth_ranks(SIMILARITY), [2.0, 3.0, 2.0, 2.0])


def test_duplicate_captions_count_as_correct_at_095():
    # row 0: correct {0, 1}, best 0.9, nothing above -> 0; row 1: correct {0, 1}, best 0.7, 0.8 above -> 1
    # rows 2 and 3: only themselves -> unchanged 2 and 2
    ranks = ground_truth_ranks(SIMILARITY, CAPTIONS, 0.95)
    np.testing.assert_allclose(ranks, [0.0, 1.0, 2.0, 2.0])


def test_threshold_08_gives_a_different_answer_on_the_same_matrix():
    # row 0: correct {0, 1, 3}, best 0.9 -> 0; row 1: correct {0, 1, 3}, best 0.8 -> 0;
    # row 2: correct {2, 3}, best 0.9 -> 0; row 3: all correct, best 0.6 tied with the other 0.6 -> 0.5
    ranks = ground_truth_ranks(SIMILARITY, CAPTIONS, 0.8)
    np.testing.assert_allclose(ranks, [0.0, 0.0, 0.0, 0.5])
    at_095 = retrieval_metrics(SIMILARITY, CAPTIONS, 0.95)
    at_08 = retrieval_metrics(SIMILARITY, CAPTIONS, 0.8)
    assert at_095["R@1"] == pytest.approx(25.0) and at_08["R@1"] == pytest.approx(100.0)
    assert at_095["MedR"] == pytest.approx(2.5)  # median(0, 1, 2, 2) = 1.5, + 1
    assert at_08["MedR"] == pytest.approx(1.0)  # median(0, 0, 0, 0.5) = 0, + 1


def test_threshold_reverse_direction_uses_the_transpose_and_the_same_captions():
    # columns as queries at 0.95: col 0 [0.2 0.7 0.4 0.6], correct {0, 1}, best 0.7 -> 0;
    # col 1 [0.9 0.3 0.4 0.1], best 0.9 -> 0; col 2 [0.1 0.6 0.4 0.6]: 0.6, 0.6 above 0.4 -> 2;
    # col 3 [0.5 0.8 0.9 0.5]: 0.8, 0.9 above, tied with item 0 -> 2.5
    np.testing.assert_allclose(ground_truth_ranks(SIMILARITY.T, CAPTIONS, 0.95), [0.0, 0.0, 2.0, 2.5])


def test_threshold_is_strict():
    # orthogonal captions: score exactly (0 + 1) / 2 = 0.5, which is not above 0.5
    captions = np.eye(2)
    similarity = np.array([[0.1, 0.9], [0.9, 0.1]])
    np.testing.assert_allclose(ground_truth_ranks(similarity, captions, 0.5), [1.0, 1.0])
    np.testing.assert_allclose(ground_truth_ranks(similarity, captions, 0.49), [0.0, 0.0])


@pytest.mark.parametrize("threshold", [-0.1, 1.5, float("nan"), "0.8", True])
def test_threshold_outside_the_unit_interval_is_refused(threshold):
    with pytest.raises(ValueError, match="threshold"):
        ground_truth_ranks(SIMILARITY, CAPTIONS, threshold)


def test_captions_and_threshold_go_together():
    with pytest.raises(ValueError, match="both or neither"):
        ground_truth_ranks(SIMILARITY, CAPTIONS)
    with pytest.raises(ValueError, match="both or neither"):
        retrieval_metrics(SIMILARITY, threshold=0.8)


def test_bad_caption_embeddings_are_refused():
    with pytest.raises(ValueError, match="rows"):
        ground_truth_ranks(SIMILARITY, CAPTIONS[:3], 0.8)
    with pytest.raises(ValueError, match="NaN"):
        ground_truth_ranks(SIMILARITY, np.where(CAPTIONS == 3.0, np.nan, CAPTIONS), 0.8)
    with pytest.raises(ValueError, match="all zeros"):
        ground_truth_ranks(SIMILARITY, np.vstack([CAPTIONS[:3], [[0.0, 0.0]]]), 0.8)


def test_non_finite_similarity_is_refused():
    with pytest.raises(ValueError, match="NaN or infinite"):
        ground_truth_ranks(np.array([[1.0, np.inf], [0.0, 1.0]]))
