"""MotionIndex: exact top-k against a full sort, both storage types, save/load without pickle, and bad input."""

import os

import numpy as np
import pytest

from lavimo.eval.index import MotionEntry, MotionIndex

DIM = 64


def unit_rows(count: int, seed: int, dim: int = DIM) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)  # (N, C)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def make_index(vectors: np.ndarray, dtype: str = "float32") -> MotionIndex:
    count = len(vectors)
    return MotionIndex.build(
        [f"{i:06d}" for i in range(count)],
        vectors,
        durations=np.arange(count) * 0.5 + 2.0,
        captions=[[f"motion {i}", "a person walks — été"] for i in range(count)],
        dtype=dtype,
    )


def reference(table: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Full stable sort of table @ q in float64: the plain answer to compare with."""
    scores = queries.astype(np.float64) @ table.astype(np.float64).T  # (Q, N)
    rows = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, rows, axis=1), rows


@pytest.mark.parametrize("count", [7, 2500])
def test_float32_search_matches_a_full_sort(count):
    vectors, queries = unit_rows(count, 0), unit_rows(5, 1)
    scores, rows = make_index(vectors).search(queries, 5)
    ref_scores, ref_rows = reference(vectors, queries, 5)
    assert scores.dtype == np.float32 and rows.dtype == np.int64 and rows.shape == (5, 5)
    np.testing.assert_array_equal(rows, ref_rows)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-5)


HALF_TOLERANCE = 2e-3  # rows, query and score each rounded to float16, each off by <= 2^-11 for unit vectors


@pytest.mark.parametrize("count", [7, 2500])
def test_float16_search_matches_a_full_sort_up_to_near_ties(count):
    vectors, queries = unit_rows(count, 2), unit_rows(6, 3)
    k = 5
    scores, rows = make_index(vectors, "float16").search(queries, k)
    assert scores.dtype == np.float32 and rows.dtype == np.int64 and rows.shape == (6, 5)
    assert all(len(set(row)) == k for row in rows.tolist())
    true_scores = queries.astype(np.float64) @ vectors.astype(np.float64).T  # (Q, N)
    found = np.take_along_axis(true_scores, rows, axis=1)  # (Q, k): what the rows found really score
    ref_scores, ref_rows = reference(vectors, queries, k)
    np.testing.assert_allclose(scores, found, atol=HALF_TOLERANCE)  # scores within half-precision rounding
    np.testing.assert_allclose(found, ref_scores, atol=HALF_TOLERANCE)  # the true top k, up to near-ties
    differ = rows != ref_rows
    assert differ.mean() < 0.2  # near-ties only: most ranks hold the very same motion
    assert np.all(np.abs(found - ref_scores)[differ] <= HALF_TOLERANCE)


def test_float16_halves_the_stored_bytes():
    vectors = unit_rows(100, 4)
    half, full = make_index(vectors, "float16"), make_index(vectors, "float32")
    assert half.dtype == "float16" and full.dtype == "float32"
    assert half.vectors.nbytes * 2 == full.vectors.nbytes


def test_k_above_the_index_size_is_clamped_to_every_motion_ranked():
    vectors = unit_rows(4, 5)
    scores, rows = make_index(vectors).search(vectors[2], 10)
    assert rows.shape == (1, 4) and scores.shape == (1, 4)
    assert sorted(rows[0].tolist()) == [0, 1, 2, 3]
    assert rows[0, 0] == 2 and scores[0, 0] == pytest.approx(1.0, abs=1e-6)
    assert np.all(np.diff(scores[0]) <= 0)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_a_batch_of_queries_answers_as_each_query_alone(dtype):
    index, queries = make_index(unit_rows(1500, 6), dtype), unit_rows(4, 7)
    scores, rows = index.search(queries, 8)
    for i, query in enumerate(queries):
        one_scores, one_rows = index.search(query, 8)  # (C,) query -> (1, k)
        assert one_rows.shape == (1, 8)
        np.testing.assert_array_equal(one_rows[0], rows[i])
        np.testing.assert_allclose(one_scores[0], scores[i], rtol=1e-6, atol=1e-7)


def test_equal_scores_are_ordered_by_row():
    vectors = np.eye(DIM, dtype=np.float32)[[3, 0, 3, 1, 3, 3]]  # one-hot rows: exact scores 1 and 0
    scores, rows = make_index(vectors).search(vectors[0], 6)
    np.testing.assert_array_equal(rows[0], [0, 2, 4, 5, 1, 3])
    np.testing.assert_array_equal(scores[0], [1, 1, 1, 1, 0, 0])


def test_entry_gives_the_metadata_of_a_row():
    index = make_index(unit_rows(3, 9))
    assert index.entry(2) == MotionEntry("000002", 3.0, ("motion 2", "a person walks — été"))


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_save_load_round_trip_is_identical(tmp_path, dtype):
    index, queries = make_index(unit_rows(300, 10), dtype), unit_rows(3, 11)
    path = str(tmp_path / "sub" / "index.safetensors")
    index.save(path)
    assert os.listdir(tmp_path / "sub") == ["index.safetensors"]  # the temporary name was renamed away
    loaded = MotionIndex.load(path)
    assert loaded.ids == index.ids and loaded.captions == index.captions and loaded.dtype == dtype
    np.testing.assert_array_equal(loaded.durations, index.durations)
    np.testing.assert_array_equal(loaded.vectors, index.vectors)
    for got, expected in zip(loaded.search(queries, 7), index.search(queries, 7)):
        np.testing.assert_array_equal(got, expected)


def test_load_refuses_a_file_that_is_not_an_index(tmp_path):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="junk.safetensors.*not a motion index"):
        MotionIndex.load(str(path))


@pytest.mark.parametrize(
    "query, k, message",
    [
        (np.zeros(DIM + 1, np.float32), 3, r"shape \(65,\), expected \(Q, 64\)"),
        (np.zeros((2, DIM - 1), np.float32), 3, r"shape \(2, 63\)"),
        (np.zeros((1, 2, DIM), np.float32), 3, "expected"),
        (np.full(DIM, np.nan, np.float32), 3, r"queries \[0\] contain NaN or infinity"),
        (np.stack([np.zeros(DIM), np.full(DIM, np.inf)]), 3, r"queries \[1\] contain NaN"),
        (np.zeros(DIM, np.float32), 0, "k must be an integer >= 1, got 0"),
        (np.zeros(DIM, np.float32), -2, "k must be an integer >= 1"),
        (np.zeros(DIM, np.float32), 2.5, "k must be an integer"),
    ],
)
def test_bad_queries_are_refused_by_name(query, k, message):
    with pytest.raises(ValueError, match=message):
        make_index(unit_rows(10, 12)).search(query, k)


def test_an_empty_index_is_refused():
    with pytest.raises(ValueError, match="empty index"):
        MotionIndex.build([], np.zeros((0, DIM), np.float32), durations=[], captions=[])


def test_duplicate_ids_are_refused_by_name():
    with pytest.raises(ValueError, match=r"duplicate motion ids \['a'\]"):
        MotionIndex.build(["a", "b", "a"], unit_rows(3, 13), durations=[1, 2, 3], captions=[["x"]] * 3)


def test_vectors_that_are_not_unit_length_are_refused_by_id():
    vectors = unit_rows(4, 14)
    vectors[1] *= 1.5
    with pytest.raises(ValueError, match=r"1 vectors are not unit-length.*'b': 1\.5"):
        MotionIndex.build(list("abcd"), vectors, durations=[1] * 4, captions=[["x"]] * 4)


def test_vectors_with_nan_are_refused_by_id():
    vectors = unit_rows(3, 15)
    vectors[2, 0] = np.nan
    with pytest.raises(ValueError, match=r"motions \['c'\] contain NaN"):
        MotionIndex.build(list("abc"), vectors, durations=[1] * 3, captions=[["x"]] * 3)


def test_mismatched_lengths_and_unknown_dtype_are_refused():
    with pytest.raises(ValueError, match="one entry per motion.*'captions': 2"):
        MotionIndex.build(list("abc"), unit_rows(3, 16), durations=[1] * 3, captions=[["x"]] * 2)
    with pytest.raises(ValueError, match="dtype 'bfloat16' is not one of"):
        MotionIndex.build(["a"], unit_rows(1, 17), durations=[1], captions=[["x"]], dtype="bfloat16")
