"""The four retrieval protocols, the dissimilar subset, small batches, id lists, tables and published numbers,
on hand-made embeddings whose answers are worked out by hand in the comments."""

import json
import os

import numpy as np
import pytest

from lavimo.data.datasets import mirror_id
from lavimo.eval.metrics import METRICS, retrieval_metrics, same_caption
from lavimo.eval.protocols import (
    all_protocol,
    choose_dissimilar,
    exact_caption_protocol,
    markdown_tables,
    protocol_label,
    read_id_list,
    run_protocols,
    small_batches,
    small_batches_protocol,
    threshold_protocol_name,
    write_id_list,
)
from lavimo.eval.published import published_results

E = np.eye(3)


def test_all_protocol_keeps_the_directions_the_embeddings_allow():
    embeddings = {"motion": E, "text": E, "index": np.arange(3)}  # no video
    results = all_protocol(embeddings)
    assert list(results) == ["t2m", "m2t"]
    assert results["t2m"]["R@1"] == pytest.approx(100.0)  # every text finds its own motion first
    assert results["m2t"]["MedR"] == pytest.approx(1.0)


def test_threshold_protocol_reads_the_sentence_embeddings():
    # motions e1 e2 e3; text 1 is the same as text 0 (e1); captions 0 and 1 are identical.
    # t2m plain: t1 scores [1, 0, 0] -> its motion (0) is below motion 0 and tied with motion 2 -> 1.5;
    #   t0, t2 -> 0: R@1 = 2/3.  At 0.95 motion 0 is correct for t1 -> 0: R@1 = 100.
    # m2t: m0 scores texts [1, 1, 0]: tie at the top -> 0.5 both ways; m1 scores [0, 0, 0] -> 1 both ways;
    #   m2 -> 0: R@1 = 2/3 with or without the threshold.
    embeddings = {"motion": E, "text": np.array([E[0], E[0], E[2]]), "sentence": np.array([E[0], E[0], E[1]])}
    plain = all_protocol(embeddings)
    with_threshold = all_protocol(embeddings, threshold=0.95)
    assert plain["t2m"]["R@1"] == pytest.approx(200 / 3)
    assert with_threshold["t2m"]["R@1"] == pytest.approx(100.0)
    assert plain["m2t"]["R@1"] == pytest.approx(200 / 3)
    assert with_threshold["m2t"]["R@1"] == pytest.approx(200 / 3)
    with pytest.raises(ValueError, match="sentence"):
        all_protocol({"motion": E, "text": E}, threshold=0.8)


def test_protocol_names_say_which_threshold_is_which():
    assert threshold_protocol_name(0.95) == "threshold_0.95"
    assert threshold_protocol_name(0.8) == "threshold_0.8"
    assert protocol_label("threshold_0.95") == "(b) All with threshold 0.95 (TMR code)"
    assert protocol_label("threshold_0.8") == "(b) All with threshold 0.8 (paper text)"
    assert protocol_label("threshold_0.9") == "(b) All with threshold 0.9"
    assert protocol_label("all") == "(a) All"
    with pytest.raises(ValueError, match="unknown protocol"):
        protocol_label("nsim")


def test_mirror_ids_follow_humanml3d():
    assert mirror_id("000123") == "M000123"
    assert mirror_id("M000123") == "000123"


# Dissimilar chooser, set 1 (3-D captions): 1 = e1, 2 ~ e1 (near-duplicate), 3 = e2, M3 ~ e2 (mirror of 3), 4 = e3.
#   mean caption m ~ (1.995, 2.094, 1.099) / 5; cosines to m: 1: 0.40, 2: 0.44, 3: 0.42, M3: 0.44, 4: 0.22
#   -> start at 4 (most atypical). Highest cosine to {4}: 1: 0, 2: 0, 3: 0, M3: 0.0995 -> tie 1, 2, 3 -> "000001".
#   Then to {4, 1}: 2: 0.995, 3: 0, M3: 0.0995 -> "000003" (which also removes M000003). Then only 2 is left.
SET_IDS = ["000001", "000002", "000003", "M000003", "000004"]
SET_CAPTIONS = np.array(
    [
        [1.0, 0.0, 0.0],
        [1.0, 0.1, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 1.0, 0.1],
        [0.0, 0.0, 1.0],
    ]
)


def test_dissimilar_chooser_picks_the_dissimilar_captions():
    assert choose_dissimilar(SET_IDS, SET_CAPTIONS, size=3) == ["000004", "000001", "000003"]
    assert choose_dissimilar(SET_IDS, SET_CAPTIONS, size=4) == ["000004", "000001", "000003", "000002"]


def test_dissimilar_chooser_is_deterministic_whatever_the_input_order():
    order = [3, 0, 4, 2, 1]
    shuffled = choose_dissimilar([SET_IDS[i] for i in order], SET_CAPTIONS[order], size=3)
    assert shuffled == choose_dissimilar(SET_IDS, SET_CAPTIONS, size=3) == ["000004", "000001", "000003"]


def test_dissimilar_chooser_never_takes_a_motion_with_its_mirror():
    # a = e1, its mirror Ma = -e1 (the most dissimilar caption of all), c = e2, d = (e1 + e2) / sqrt 2.
    # mean cosine to all: a 0.18, Ma -0.18, c 0.43, d 0.43 -> start at Ma; a is then excluded although its
    # cosine to Ma (-1) is the lowest; d (-0.71) beats c (0) -> [Ma, d]; then only c is left.
    ids = ["000001", "M000001", "000002", "000003"]
    captions = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    assert choose_dissimilar(ids, captions, size=2) == ["M000001", "000003"]
    assert choose_dissimilar(ids, captions, size=3) == ["M000001", "000003", "000002"]
    with pytest.raises(ValueError, match="only 3 are available"):
        choose_dissimilar(ids, captions, size=4)  # 4 ids but 3 groups: a motion and its mirror count once


def test_dissimilar_chooser_refuses_mismatched_inputs():
    with pytest.raises(ValueError, match="5 ids but 4"):
        choose_dissimilar(SET_IDS, SET_CAPTIONS[:4], size=2)
    with pytest.raises(ValueError, match="more than once"):
        choose_dissimilar(["000001", "000001"], SET_CAPTIONS[:2], size=1)


def test_id_list_reads_the_published_format(tmp_path):
    path = tmp_path / "nsim_test.txt"
    path.write_text("000004\n\n  M000003 \n000001\n\n")
    assert read_id_list(str(path), SET_IDS) == ["000004", "M000003", "000001"]


def test_id_list_errors_name_the_file(tmp_path):
    missing = tmp_path / "absent.txt"
    with pytest.raises(FileNotFoundError, match="absent.txt"):
        read_id_list(str(missing), SET_IDS)
    stranger = tmp_path / "stranger.txt"
    stranger.write_text("000001\n009999\n")
    with pytest.raises(ValueError, match=r"stranger\.txt.*1 ids are not in the split.*009999"):
        read_id_list(str(stranger), SET_IDS)
    twice = tmp_path / "twice.txt"
    twice.write_text("000001\n000001\n")
    with pytest.raises(ValueError, match=r"twice\.txt.*more than once"):
        read_id_list(str(twice), SET_IDS)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    with pytest.raises(ValueError, match=r"empty\.txt.*empty"):
        read_id_list(str(empty), SET_IDS)


def test_id_list_round_trip_is_atomic(tmp_path):
    path = tmp_path / "results" / "dissimilar_ids.txt"
    write_id_list(str(path), ["000004", "000001"])
    assert path.read_text() == "000004\n000001\n"
    assert os.listdir(path.parent) == ["dissimilar_ids.txt"]  # no temporary file left behind
    assert read_id_list(str(path), SET_IDS) == ["000004", "000001"]


IDS_70 = [f"{i:06d}" for i in range(70)]


def tmr_batches(ids: list[str], batch_size: int) -> list[list[str]]:
    """TMR's recipe, as its retrieval script does it: global seed 0, shuffle the sorted ids' positions."""
    keyids = sorted(ids)
    state = np.random.get_state()
    try:
        np.random.seed(0)
        idx = np.arange(len(keyids))
        np.random.shuffle(idx)
    finally:
        np.random.set_state(state)
    return [[keyids[i] for i in idx[batch_size * b : batch_size * (b + 1)]] for b in range(len(keyids) // batch_size)]


def test_small_batches_are_tmr_batches():
    batches = small_batches(list(reversed(IDS_70)), batch_size=32, seed=0)  # input order does not matter
    assert batches == tmr_batches(IDS_70, 32)
    assert [len(batch) for batch in batches] == [32, 32]  # 70 = 2 * 32 + 6 dropped
    used = set(batches[0]) | set(batches[1])
    assert len(used) == 64 and len(set(IDS_70) - used) == 6
    assert batches != [IDS_70[:32], IDS_70[32:64]]  # actually shuffled
    assert small_batches(IDS_70, 32, seed=1) != batches


def test_small_batches_need_one_full_batch():
    with pytest.raises(ValueError, match="at least 32 pairs, got 31"):
        small_batches(IDS_70[:31], batch_size=32)


def test_small_batch_metrics_are_averaged_over_batches():
    # 70 pairs; even ids are "good": text = motion = one-hot e_i, so inside any batch the text finds its
    # motion first (rank 0) and the motion its text. Odd ids are "bad": their text is e_70, orthogonal to every
    # motion, so all 32 scores of the batch tie at 0 -> rank 31 / 2 = 15.5, both ways.
    # A batch with g good pairs: R@k = 100 g / 32 for k <= 10 (15.5 >= 10); the 16th and 17th of the 32 sorted
    # ranks give MedR = 1 if g >= 17, (0 + 15.5) / 2 + 1 = 8.75 if g == 16, 16.5 if g <= 15.
    good = [i % 2 == 0 for i in range(70)]
    motion = np.eye(71)[:70]  # (70, 71)
    text = np.array([np.eye(71)[i] if good[i] else np.eye(71)[70] for i in range(70)])  # (70, 71)
    results = small_batches_protocol({"motion": motion, "text": text}, IDS_70, batch_size=32, seed=0)

    def medr(g: int) -> float:
        return 1.0 if g >= 17 else 8.75 if g == 16 else 16.5

    counts = [sum(good[int(key)] for key in batch) for batch in tmr_batches(IDS_70, 32)]
    for direction in ("t2m", "m2t"):
        for k in (1, 2, 3, 5, 10):
            assert results[direction][f"R@{k}"] == pytest.approx(np.mean([100 * g / 32 for g in counts]))
        assert results[direction]["MedR"] == pytest.approx(np.mean([medr(g) for g in counts]))


# Five pairs, motion = text: a, b, c all e1 (three-way tie at the top -> rank 1 each), d = e2, e = e3 (rank 0).
#   All: R@1 = 2/5 = 40.  Dissimilar subset [c, d, e]: no tie left -> R@1 = 100.
FIVE_IDS = ["a", "b", "c", "d", "e"]
FIVE = np.array([E[0], E[0], E[0], E[1], E[2]])


def test_run_protocols_with_a_given_dissimilar_list():
    embeddings = {"motion": FIVE, "text": FIVE, "sentence": FIVE}
    run = run_protocols(embeddings, FIVE_IDS, dissimilar_ids=["c", "d", "e"], batch_size=2)
    assert list(run.results) == ["all", "threshold_0.95", "threshold_0.8", "dissimilar", "small_batches"]
    assert run.results["all"]["t2m"]["R@1"] == pytest.approx(40.0)
    assert run.results["all"]["t2m"]["MedR"] == pytest.approx(2.0)  # ranks 1 1 1 0 0 -> median 1, + 1
    assert run.results["dissimilar"]["t2m"]["R@1"] == pytest.approx(100.0)
    # a, b, c share a caption, so all three motions at the top are correct for each of them; but, as in TMR,
    # the best correct score's position is averaged over every item with that score: (0 + 1 + 2) / 3 = 1 again
    assert run.results["threshold_0.8"]["t2m"]["R@1"] == pytest.approx(40.0)
    assert run.dissimilar_ids == ["c", "d", "e"]


def test_exact_caption_pairs_count_every_item_with_the_same_caption_text():
    captions = ["a man walks", "a man walks", "jump", "a man walks."]  # the last differs by its full stop
    similarity = np.array(
        [
            [0.1, 0.9, 0.5, 0.8],  # query 0: item 1 has its caption -> rank 0 instead of 3
            [0.9, 0.2, 0.5, 0.1],  # query 1: item 0 -> rank 0 instead of 2
            [0.7, 0.6, 0.5, 0.1],  # query 2: only itself -> rank 2
            [0.9, 0.8, 0.1, 0.3],
        ]
    )  # query 3: "a man walks." is another caption -> rank 2
    exact = retrieval_metrics(similarity, correct=same_caption(captions))
    assert (exact["R@1"], exact["R@2"], exact["R@3"], exact["MedR"]) == (50.0, 50.0, 100.0, 2.0)
    plain = retrieval_metrics(similarity)
    assert (plain["R@1"], plain["R@3"], plain["MedR"]) == (0.0, 75.0, 3.0)
    np.testing.assert_array_equal(same_caption(["x", "y", "x"]), [[1, 0, 1], [0, 1, 0], [1, 0, 1]])
    # in run_protocols, after the four, in every direction
    embeddings = {"motion": FIVE, "text": FIVE, "sentence": FIVE}
    run = run_protocols(
        embeddings, FIVE_IDS, dissimilar_ids=["c", "d", "e"], batch_size=2, captions=["walk", "walk", "run", "d", "e"]
    )
    assert list(run.results)[-1] == "exact_caption" and set(run.results["exact_caption"]) == {"t2m", "m2t"}
    # a, b, c tie at the top; for a and b, a correct item (a or b) tops it, its tied position averaged: (0+1+2)/3
    assert run.results["exact_caption"]["t2m"]["R@1"] == pytest.approx(40.0)
    assert "Exact-caption" in protocol_label("exact_caption")
    with pytest.raises(ValueError, match="2 captions for 5 pairs"):
        exact_caption_protocol(embeddings, ["walk", "run"])


def test_run_protocols_chooses_the_dissimilar_subset_when_not_given():
    embeddings = {"motion": SET_CAPTIONS, "text": SET_CAPTIONS, "sentence": SET_CAPTIONS}
    run = run_protocols(embeddings, SET_IDS, thresholds=(0.8,), dissimilar_size=3, batch_size=2)
    assert run.dissimilar_ids == ["000004", "000001", "000003"]
    assert list(run.results) == ["all", "threshold_0.8", "dissimilar", "small_batches"]
    assert run.notes == []


def test_a_small_split_shrinks_the_dissimilar_subset_and_skips_small_batches_with_notes():
    embeddings = {"motion": SET_CAPTIONS, "text": SET_CAPTIONS, "sentence": SET_CAPTIONS}
    run = run_protocols(embeddings, SET_IDS, thresholds=(0.8,))  # 5 ids, 4 motion/mirror groups
    assert len(run.dissimilar_ids) == 4 and not {"000003", "M000003"} <= set(run.dissimilar_ids)
    assert list(run.results) == ["all", "threshold_0.8", "dissimilar"]
    assert len(run.notes) == 2
    assert "4 pairs instead of 100" in run.notes[0] and "Dissimilar" in run.notes[0]
    assert "skipped" in run.notes[1] and "5 pairs, fewer than one batch of 32" in run.notes[1]


def test_run_protocols_refuses_inconsistent_inputs():
    embeddings = {"motion": FIVE, "text": FIVE, "sentence": FIVE}
    with pytest.raises(ValueError, match=r'embeddings\["text"\] has 4 rows but there are 5 ids'):
        run_protocols({**embeddings, "text": FIVE[:4]}, FIVE_IDS, dissimilar_ids=["a"], batch_size=2)
    with pytest.raises(ValueError, match="dissimilar ids.*zzz"):
        run_protocols(embeddings, FIVE_IDS, dissimilar_ids=["a", "zzz"], batch_size=2)
    with pytest.raises(ValueError, match="more than once"):
        run_protocols(embeddings, ["a", "a", "c", "d", "e"], dissimilar_ids=["a"], batch_size=2)
    with pytest.raises(ValueError, match="no retrieval direction"):
        run_protocols({"motion": FIVE, "sentence": FIVE}, FIVE_IDS, dissimilar_ids=["a"], batch_size=2)


def metrics_of(values: list[float]) -> dict[str, float]:
    return dict(zip(METRICS, values))


OURS = {
    "t2m": metrics_of([1, 2, 3, 4, 5, 6]),
    "m2t": metrics_of([7, 8, 9, 10, 11, 12]),
    "v2m": metrics_of([13, 14, 15, 16, 17, 18]),
}
PUBLISHED = {
    "all": {"TMR": {"t2m": metrics_of([5, 10, 15, 20, 30, 28]), "m2t": metrics_of([9.5, 12, 18, 23, 32.5, 28.5])}}
}


def test_markdown_tables_follow_the_papers_layout():
    text = markdown_tables({"all": OURS, "dissimilar": OURS}, PUBLISHED, method="ours")
    all_section, dissimilar_section = text.split("### (c) Dissimilar subset")
    assert all_section.startswith("### (a) All\n")
    lines = all_section.splitlines()
    group_row = "| | Text-motion retrieval | | | | | | Motion-text retrieval | | | | | |"
    metric_row = "| **Methods** |" + (" **R@1 ↑** | **R@2 ↑** | **R@3 ↑** | **R@5 ↑** | **R@10 ↑** | **MedR ↓** |") * 2
    tmr_row = "| TMR | 5.00 | 10.00 | 15.00 | 20.00 | 30.00 | 28.00 | 9.50 | 12.00 | 18.00 | 23.00 | 32.50 | 28.50 |"
    ours_row = "| ours | 1.00 | 2.00 | 3.00 | 4.00 | 5.00 | 6.00 | 7.00 | 8.00 | 9.00 | 10.00 | 11.00 | 12.00 |"
    start = lines.index(group_row)
    assert lines[start + 1] == "|---|" + "---:|" * 12
    assert lines[start + 2 : start + 5] == [metric_row, tmr_row, ours_row]  # published rows first, ours last
    # the video table: only our row, motion-to-video missing
    video = lines[lines.index("| | Video-motion retrieval | | | | | | Motion-video retrieval | | | | | |") :]
    assert video[3] == "| ours | 13.00 | 14.00 | 15.00 | 16.00 | 17.00 | 18.00 |" + " – |" * 6
    assert "TMR" not in "\n".join(video)
    assert "TMR" not in dissimilar_section and ours_row in dissimilar_section  # no published dissimilar rows
    assert "Text-video retrieval" not in text  # no text-video direction in the results


def write_published(path, rows) -> str:
    path.write_text(json.dumps({"source": {"arxiv": "test"}, "rows": rows}))
    return str(path)


def row(**changes) -> dict:
    base = {
        "table": "Table 1",
        "dataset": "humanml3d",
        "paper_protocol": "(a) All",
        "protocol": "all",
        "method": "TMR",
        "direction": "t2m",
        "metrics": metrics_of([1, 2, 3, 4, 5, 6]),
    }
    return {**base, **changes}


def test_published_results_group_rows_by_protocol_method_direction(tmp_path):
    path = write_published(
        tmp_path / "published.json",
        [
            row(),
            row(direction="m2t", metrics=metrics_of([2, 3, 4, 5, 6, 7])),
            row(protocol="threshold_0.95", paper_protocol="(b) All with threshold"),
            row(dataset="kit", method="LAVIMO"),
        ],
    )
    humanml3d = published_results("humanml3d", path)
    assert list(humanml3d) == ["all", "threshold_0.95"]
    assert humanml3d["all"]["TMR"]["m2t"]["R@1"] == 2.0
    assert published_results("kit", path) == {"all": {"LAVIMO": {"t2m": metrics_of([1, 2, 3, 4, 5, 6])}}}
    assert published_results("synthetic", path) == {}


@pytest.mark.parametrize(
    "bad, message",
    [
        (row(protocol="nsim"), "unknown protocol"),
        (row(direction="x2y"), "unknown direction"),
        (row(metrics={"R@1": 1.0}), "expected the metrics"),
        (row(metrics=metrics_of([1, 2, 3, 4, 5, float("nan")])), "finite"),
    ],
)
def test_published_rows_are_checked(tmp_path, bad, message):
    path = write_published(tmp_path / "published.json", [bad])
    with pytest.raises(ValueError, match=message):
        published_results("humanml3d", path)


def test_published_rows_are_not_repeated(tmp_path):
    path = write_published(tmp_path / "published.json", [row(), row()])
    with pytest.raises(ValueError, match="repeats all / TMR / t2m"):
        published_results("humanml3d", path)
