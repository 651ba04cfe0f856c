"""Losses: hand-computed KL, InfoNCE parity, negative filtering, masked MSE, weighted terms, a 2-process gather."""

from __future__ import annotations

import math
import socket
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from lavimo.losses import (
    LavimoLoss,
    LossWeights,
    World,
    alignment_loss,
    negative_filtering_targets,
    reconstruction_loss,
)

# --- hand-computed values -------------------------------------------------------------


def _softmax(row):
    exps = [math.exp(v) for v in row]
    return [e / sum(exps) for e in exps]


def _kl(target_row, pred_row):
    return sum(t * math.log(t / p) for t, p in zip(target_row, pred_row) if t > 0)


def test_alignment_2x2_matches_hand_computed_kl():
    x = [[1.0, 0.0], [0.0, 1.0]]
    y = [[0.6, 0.8], [0.8, 0.6]]
    target = [[0.7, 0.3], [0.3, 0.7]]  # symmetric: the y→x target is the same matrix
    s = 2.0
    # x→y logits s·x_i·y_j: row 0 = [1.2, 1.6], row 1 = [1.6, 1.2]; y→x = the transpose, here equal.
    x_to_y = [_softmax([s * 0.6, s * 0.8]), _softmax([s * 0.8, s * 0.6])]
    y_to_x = [_softmax([s * 0.6, s * 0.8]), _softmax([s * 0.8, s * 0.6])]
    expected = sum(_kl(target[i], x_to_y[i]) for i in range(2)) / 2
    expected += sum(_kl(target[i], y_to_x[i]) for i in range(2)) / 2

    got = alignment_loss(torch.tensor(x), torch.tensor(y), torch.tensor(target), s)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def _caption_triangle():
    """A≈B (cos .9), A≈C (cos .9), B and C apart (cos 2·.81−1 = .62): an asymmetric filtered target at ε=.9
    (caption scores (cos + 1) / 2: .95 for A-B and A-C, .81 for B-C)."""
    h = math.sqrt(1 - 0.9**2)
    return torch.tensor([[1.0, 0.0], [0.9, h], [0.9, -h]], dtype=torch.float64)


def test_negative_filtering_matches_hand_computed_rows():
    got = negative_filtering_targets(_caption_triangle(), epsilon=0.9)
    expected = np.array([[1, 0.9, 0.9], [0.9, 1, 0], [0.9, 0, 1]]) / np.array([[2.8], [1.9], [1.9]])
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)


def test_epsilon_is_on_tmrs_caption_score_scale():
    cos_bc = 2 * 0.81 - 1  # B-C: cos .62, score (cos + 1) / 2 = 0.81
    kept = negative_filtering_targets(_caption_triangle(), epsilon=0.8)  # the paper's 0.8: cos >= 0.6
    expected = np.array([[1, 0.9, 0.9], [0.9, 1, cos_bc], [0.9, cos_bc, 1]])
    np.testing.assert_allclose(kept.numpy(), expected / expected.sum(axis=1, keepdims=True), atol=1e-6)
    dropped = negative_filtering_targets(_caption_triangle(), epsilon=0.82)
    assert dropped[1, 2] == 0 and dropped[1, 0] > 0


def test_alignment_3x3_asymmetric_target_matches_hand_computed_kl():
    target = np.array([[1, 0.9, 0.9], [0.9, 1, 0], [0.9, 0, 1]]) / np.array([[2.8], [1.9], [1.9]])
    target_t = target.T / target.T.sum(axis=1, keepdims=True)  # y→x: transpose, rows re-normalised
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    y = rng.normal(size=(3, 4))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    s = 5.0
    sim = x @ y.T
    expected = sum(_kl(target[i], _softmax(s * sim[i])) for i in range(3)) / 3
    expected += sum(_kl(target_t[j], _softmax(s * sim[:, j])) for j in range(3)) / 3

    got = alignment_loss(torch.tensor(x), torch.tensor(y), torch.tensor(target), s)
    assert got.item() == pytest.approx(expected, rel=1e-9)


# --- InfoNCE parity (values and gradients) --------------------------------------------


def _unit(rows, dim, seed):
    gen = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(rows, dim, generator=gen, dtype=torch.float64), dim=-1)


def test_epsilon_above_every_similarity_is_symmetric_infonce():
    x = _unit(6, 8, 1).requires_grad_()
    y = _unit(6, 8, 2).requires_grad_()
    s = torch.tensor(7.0, dtype=torch.float64, requires_grad=True)
    target = negative_filtering_targets(_unit(6, 5, 3), epsilon=0.999)
    assert torch.equal(target, torch.eye(6, dtype=target.dtype))

    ours = alignment_loss(x, y, target, s)
    labels = torch.arange(6)
    reference = F.cross_entropy(s * x @ y.T, labels) + F.cross_entropy(s * y @ x.T, labels)
    assert ours.item() == pytest.approx(reference.item(), rel=1e-12)
    ours_grads = torch.autograd.grad(ours, (x, y, s))
    ref_grads = torch.autograd.grad(reference, (x, y, s))
    for a, b in zip(ours_grads, ref_grads):
        torch.testing.assert_close(a, b)


# --- negative filtering ---------------------------------------------------------------


def test_duplicate_captions_share_mass_rows_sum_to_one_diagonal_kept():
    sentences = _unit(5, 6, 4)
    sentences[3] = sentences[1]  # the same caption twice
    target = negative_filtering_targets(sentences, epsilon=0.95)
    torch.testing.assert_close(target.sum(dim=1), torch.ones(5, dtype=target.dtype))
    for i, j in ((1, 1), (1, 3), (3, 1), (3, 3)):
        assert target[i, j].item() == pytest.approx(0.5)
    for i in (0, 2, 4):
        assert target[i, i] == 1.0
    assert not target.requires_grad


def test_epsilon_above_one_gives_identity():
    sentences = _unit(4, 6, 5)
    sentences[2] = sentences[0]
    target = negative_filtering_targets(sentences.requires_grad_(), epsilon=1.01)
    assert torch.equal(target, torch.eye(4, dtype=target.dtype))
    assert not target.requires_grad


# --- reconstruction -------------------------------------------------------------------


def test_reconstruction_ignores_padded_frames():
    pred = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(6))
    target = torch.randn(2, 5, 3, generator=torch.Generator().manual_seed(7))
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    loss = reconstruction_loss(pred, target, mask)
    expected = ((pred - target) ** 2)[mask].sum() / (8 * 3)  # 8 valid frames × D=3
    torch.testing.assert_close(loss, expected)

    pred2, target2 = pred.clone(), target.clone()
    pred2[0, 3:] = 1e6
    target2[0, 3:] = float("nan")
    torch.testing.assert_close(reconstruction_loss(pred2, target2, mask), loss)


# --- weighted terms -------------------------------------------------------------------


def _local_inputs(batch=4, dim=8, frames=5, pose=3, seed=10):
    embeddings = {m: _unit(batch, dim, seed + i) for i, m in enumerate(("motion", "text", "video"))}
    sentences = _unit(batch, 6, seed + 3)
    sentences[2] = sentences[0]  # a repeated caption, so negative filtering has work to do
    recon = torch.randn(batch, frames, pose, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 4))
    target = torch.randn(batch, frames, pose, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 5))
    mask = torch.arange(frames)[None, :] < torch.tensor([5, 2, 4, 1])[:batch, None]
    return embeddings, sentences, recon, target, mask


def test_two_modal_weights_keep_only_motion_text_and_recon():
    embeddings, sentences, recon, target, mask = _local_inputs()
    del embeddings["video"]  # the 2-modal run has no video at all
    weights = LossWeights.two_modal(reconstruction=0.25)
    out = LavimoLoss(weights, epsilon=0.8)(embeddings, sentences, 10.0, recon, target, mask)
    assert set(out.terms) == {"align/motion-text", "recon"}
    torch.testing.assert_close(out.total, out.terms["align/motion-text"] + 0.25 * out.terms["recon"])
    torch.testing.assert_close(out.terms["recon"], reconstruction_loss(recon, target, mask))


def test_tri_modal_total_is_weighted_sum_of_named_terms():
    embeddings, sentences, recon, target, mask = _local_inputs()
    weights = LossWeights({("motion", "text"): 1.0, ("motion", "video"): 0.5, ("text", "video"): 2.0}, 0.1)
    out = LavimoLoss(weights, epsilon=0.8)(embeddings, sentences, 10.0, recon, target, mask)
    assert set(out.terms) == {"align/motion-text", "align/motion-video", "align/text-video", "recon"}
    t = out.terms
    expected = t["align/motion-text"] + 0.5 * t["align/motion-video"] + 2.0 * t["align/text-video"] + 0.1 * t["recon"]
    torch.testing.assert_close(out.total, expected)
    sentence_targets = negative_filtering_targets(sentences, 0.8)
    plain = alignment_loss(embeddings["text"], embeddings["video"], sentence_targets, 10.0)
    torch.testing.assert_close(t["align/text-video"], plain)


def test_missing_modality_and_bad_weights_are_named():
    embeddings, sentences, recon, target, mask = _local_inputs()
    del embeddings["video"]
    with pytest.raises(ValueError, match="'video'"):
        LavimoLoss(LossWeights.tri_modal(), epsilon=0.8)(embeddings, sentences, 10.0, recon, target, mask)
    with pytest.raises(ValueError, match="reconstruction weight"):
        LavimoLoss(LossWeights.two_modal(), epsilon=0.8)(embeddings, sentences, 10.0)
    with pytest.raises(ValueError, match="audio"):
        LossWeights({("motion", "audio"): 1.0})
    with pytest.raises(ValueError, match="reconstruction"):
        LossWeights.two_modal(reconstruction=-1.0)


# --- two real processes ---------------------------------------------------------------

WORLD_SIZE = 2
GLOBAL_BATCH = 8


def _global_batch():
    """The full batch every rank can rebuild: embeddings, captions with near-duplicates across ranks, uneven masks."""
    gen = torch.Generator().manual_seed(20)
    embeddings = {
        m: F.normalize(torch.randn(GLOBAL_BATCH, 8, generator=gen, dtype=torch.float64), dim=-1)
        for m in ("motion", "text", "video")
    }
    sentences = torch.randn(GLOBAL_BATCH, 6, generator=gen, dtype=torch.float64)
    sentences[5] = sentences[0] + 0.05 * torch.randn(6, generator=gen, dtype=torch.float64)  # ranks 0 and 1
    sentences[6] = sentences[1]
    sentences[3] = sentences[2]
    recon = torch.randn(GLOBAL_BATCH, 5, 3, generator=gen, dtype=torch.float64)
    target = torch.randn(GLOBAL_BATCH, 5, 3, generator=gen, dtype=torch.float64)
    lengths = torch.tensor([5, 5, 2, 1, 3, 5, 4, 5])  # 13 valid frames on rank 0, 17 on rank 1
    mask = torch.arange(5)[None, :] < lengths[:, None]
    return embeddings, sentences, recon, target, mask


def _loss_and_grads(embeddings, sentences, recon, target, mask, world=None):
    """Loss and the gradients of (embeddings by modality, logit scale, reconstruction) for leaves made here."""
    leaves = {m: e.clone().requires_grad_() for m, e in embeddings.items()}
    scale = torch.tensor(9.0, dtype=torch.float64, requires_grad=True)
    recon = recon.clone().requires_grad_()
    out = LavimoLoss(LossWeights.tri_modal(), epsilon=0.8, world=world)(leaves, sentences, scale, recon, target, mask)
    out.total.backward()
    grads = {m: leaf.grad for m, leaf in leaves.items()} | {"logit_scale": scale.grad, "recon": recon.grad}
    return out.scalars(), grads


def _distributed_worker(rank, port, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD_SIZE, timeout=timedelta(seconds=30)
    )
    try:
        embeddings, sentences, recon, target, mask = _global_batch()
        b = GLOBAL_BATCH // WORLD_SIZE
        rows = slice(rank * b, (rank + 1) * b)
        local = {m: e[rows] for m, e in embeddings.items()}
        # world=None: the loss reads rank and size from the initialised process group itself.
        scalars, grads = _loss_and_grads(local, sentences[rows], recon[rows], target[rows], mask[rows])
        uneven = slice(rank * b, (rank + 1) * b - rank)  # rank 1 holds one row fewer
        try:
            LavimoLoss(LossWeights.tri_modal(), epsilon=0.8)(
                {m: e[uneven] for m, e in embeddings.items()},
                sentences[uneven],
                9.0,
                recon[uneven],
                target[uneven],
                mask[uneven],
            )
            uneven_error = ""
        except ValueError as error:
            uneven_error = str(error)
        # This child imported only the test module and its imports: Ray and MLflow must not be among them.
        heavy = sorted({m.split(".")[0] for m in sys.modules} & {"ray", "mlflow"})
        result = {"scalars": scalars, "grads": grads, "uneven_error": uneven_error, "heavy_imports": heavy}
        torch.save(result, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_gathered_loss_matches_single_process(tmp_path):
    mp.spawn(_distributed_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD_SIZE, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD_SIZE)]
    full_scalars, full_grads = _loss_and_grads(*_global_batch(), world=World())

    # Loss: the mean over ranks of each term equals the single-process term on the whole batch.
    for name, value in full_scalars.items():
        assert np.mean([r["scalars"][name] for r in ranks]) == pytest.approx(value, rel=1e-10), name

    # Gradients. Rank r's loss is its own rows' mean, and the gather's backward sums every
    # rank's gradient for rank r's rows, so rank r holds d(Σ_r' L_r')/d(its rows)
    # = W · (its rows of the single-process gradient of L). DDP averages parameter gradients
    # over W ranks: (1/W) Σ_r W · g[rows_r] · d rows_r / dθ = the single-process gradient.
    # The logit scale is replicated, not gathered: each rank holds dL_r/ds; their DDP average is dL/ds.
    b = GLOBAL_BATCH // WORLD_SIZE
    for rank, result in enumerate(ranks):
        rows = slice(rank * b, (rank + 1) * b)
        for name in ("motion", "text", "video", "recon"):
            torch.testing.assert_close(result["grads"][name], WORLD_SIZE * full_grads[name][rows], msg=name)
    ddp_scale_grad = sum(r["grads"]["logit_scale"] for r in ranks) / WORLD_SIZE
    torch.testing.assert_close(ddp_scale_grad, full_grads["logit_scale"])

    for result in ranks:
        assert "equal local batch sizes" in result["uneven_error"] and "[4, 3]" in result["uneven_error"]
        assert result["heavy_imports"] == []  # the losses (and this module) import without Ray or MLflow
