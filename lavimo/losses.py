"""LAVIMO losses: KL alignment with negative filtering per modality pair, masked reconstruction, weighted total.

Torch only: no Ray, no MLflow, nothing else of ``lavimo``.

Distributed convention (world size W, local batch b, global batch N = W·b): every rank
computes the loss of its own b query rows against the whole global gallery, in both
directions, normalised by b. So

- the mean of the ranks' losses equals the single-process loss on the concatenated batch;
- each rank's gradient of its local embeddings is W × the matching rows of the
  single-process gradient, and DDP's average over W ranks gives back exactly the
  single-process parameter gradient (the gather's backward sums the gradient that every
  rank's rows send through this rank's gallery columns — see ``_GatherWithGrad``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

MODALITIES = ("motion", "text", "video")
TRI_MODAL_PAIRS = (("motion", "text"), ("motion", "video"), ("text", "video"))


# ---------------------------------------------------------------------------------------
# Runtime facts: which rank of how many. Read from torch.distributed in one place only.
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """Rank and world size of the process group the loss gathers over (default: one process)."""

    rank: int = 0
    size: int = 1

    def __post_init__(self) -> None:
        if self.size < 1 or not 0 <= self.rank < self.size:
            raise ValueError(f"invalid World(rank={self.rank}, size={self.size})")

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @classmethod
    def from_torch(cls) -> World:
        """The default process group's rank and size, or a single process when none is initialised."""
        if dist.is_available() and dist.is_initialized():
            return cls(rank=dist.get_rank(), size=dist.get_world_size())
        return cls()


# ---------------------------------------------------------------------------------------
# Gathers
# ---------------------------------------------------------------------------------------


class _GatherWithGrad(torch.autograd.Function):
    """All-gather rows; this rank's slot is its own tensor; backward sums every rank's gradient for that slot.

    open_clip puts the local tensor back into a detached gather so it keeps its gradient.
    That suffices when every rank computes the full N×N loss, but here each rank computes
    only its own rows, and the rows of rank r' also depend on this rank's embeddings as
    gallery columns. The backward all-reduce (sum) brings those contributions home, so the
    gradient of this rank's slot is d(Σ_r loss_r)/d(local).
    """

    @staticmethod
    def forward(ctx, local: Tensor, rank: int, size: int) -> Tensor:  # local: (b, C) -> (W·b, C)
        ctx.rank, ctx.rows = rank, local.shape[0]
        slots = [torch.empty_like(local) for _ in range(size)]
        dist.all_gather(slots, local.contiguous())
        slots[rank] = local
        return torch.cat(slots)

    @staticmethod
    def backward(ctx, grad: Tensor):  # grad: (W·b, C) -> (b, C)
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = ctx.rank * ctx.rows
        return grad[start : start + ctx.rows], None, None


def gather_rows(local: Tensor, world: World) -> Tensor:
    """(b, C) -> (W·b, C), rank order, differentiable (see ``_GatherWithGrad``); identity on one process."""
    if not world.distributed:
        return local
    return _GatherWithGrad.apply(local, world.rank, world.size)


@torch.no_grad()
def _gather_rows_no_grad(local: Tensor, world: World) -> Tensor:
    """(b, E) -> (W·b, E) in rank order, without gradient."""
    if not world.distributed:
        return local
    slots = [torch.empty_like(local) for _ in range(world.size)]
    dist.all_gather(slots, local.contiguous())
    return torch.cat(slots)


@torch.no_grad()
def _all_reduce_sum(value: Tensor, world: World) -> Tensor:
    """Sum of a small tensor over ranks (a copy; the input is untouched)."""
    total = value.detach().clone()
    if world.distributed:
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total


def check_equal_batch_sizes(local_batch: int, world: World, device: torch.device) -> None:
    """Raise the same ValueError on every rank unless all ranks hold ``local_batch`` rows."""
    if not world.distributed:
        return
    slots = [torch.zeros(1, dtype=torch.long, device=device) for _ in range(world.size)]
    dist.all_gather(slots, torch.tensor([local_batch], dtype=torch.long, device=device))
    sizes = [int(s.item()) for s in slots]
    if len(set(sizes)) != 1:
        raise ValueError(
            f"the gathered loss needs equal local batch sizes on every rank, got {sizes} "
            f"(rank order); drop the last incomplete batch or pad the shards"
        )


# ---------------------------------------------------------------------------------------
# Targets and the alignment term
# ---------------------------------------------------------------------------------------


def _row_normalised(matrix: Tensor) -> Tensor:
    """Rows divided by their sums: (R, N) -> (R, N)."""
    return matrix / matrix.sum(dim=-1, keepdim=True)


def caption_score(cosine: Tensor) -> Tensor:
    """TMR's scale for caption similarity, on which ε and the evaluation threshold are given: (cos + 1) / 2."""
    return (cosine + 1.0) / 2.0


@torch.no_grad()
def negative_filtering_targets(sentence_emb: Tensor, epsilon: float) -> Tensor:
    """Soft targets from caption similarity: (B, E) -> (B, B), rows sum to 1, no gradient.

    S(i, j) = cos(ê_i, ê_j) where the caption score (cos + 1) / 2 is ≥ ε (TMR's scale, the one its negative
    filtering and its threshold protocol compare with: cos ≥ 2ε − 1), else 0; the diagonal is 1; then each row is
    normalised to a distribution. ε > 1 gives the identity (plain InfoNCE targets).
    """
    if sentence_emb.ndim != 2:
        raise ValueError(f"sentence_emb must be (B, E), got shape {tuple(sentence_emb.shape)}")
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0 (targets must be non-negative), got {epsilon}")
    unit = F.normalize(sentence_emb.to(torch.promote_types(sentence_emb.dtype, torch.float32)), dim=-1)  # (B, E)
    cosine = unit @ unit.T  # (B, B)
    kept = torch.where(caption_score(cosine) >= epsilon, cosine, torch.zeros_like(cosine))
    kept.fill_diagonal_(1.0)
    return _row_normalised(kept)


def _directional_kl(queries: Tensor, gallery: Tensor, target: Tensor, logit_scale: Tensor | float) -> Tensor:
    """Mean over query rows of KL(target_i ‖ softmax_j(s · q_i·g_j)).

    queries: (R, C), gallery: (N, C), target: (R, N) rows summing to 1. Zero target
    entries contribute 0 (xlogy), so one-hot rows reduce to cross-entropy.
    """
    log_pred = F.log_softmax(logit_scale * (queries @ gallery.T), dim=-1)  # (R, N)
    target = target.to(device=log_pred.device, dtype=log_pred.dtype)
    per_row = (torch.xlogy(target, target) - target * log_pred).sum(dim=-1)  # (R,)
    return per_row.mean()


def _local_alignment_loss(
    x_local: Tensor,
    y_local: Tensor,
    x_all: Tensor,
    y_all: Tensor,
    target_all: Tensor,
    logit_scale: Tensor | float,
    offset: int,
) -> Tensor:
    """Both directions for the local query rows [offset, offset + b) against the global gallery.

    x_local, y_local: (b, C); x_all, y_all: (N, C); target_all: (N, N). The y→x target is
    target_allᵀ with its rows re-normalised (a row-normalised matrix's transpose need not
    have rows summing to 1; for a symmetric target it is just the transpose).
    """
    rows = slice(offset, offset + x_local.shape[0])
    x_to_y = _directional_kl(x_local, y_all, target_all[rows], logit_scale)
    y_to_x = _directional_kl(y_local, x_all, _row_normalised(target_all.T[rows]), logit_scale)
    return x_to_y + y_to_x


def alignment_loss(x: Tensor, y: Tensor, target: Tensor, logit_scale: Tensor | float) -> Tensor:
    """KL(S_target ‖ S_pred^{x→y}) + KL(S_targetᵀ ‖ S_pred^{y→x}), each averaged over rows.

    x, y: (B, C), L2-normalised; target: (B, B) with rows summing to 1; logit_scale = 1/τ.
    S_pred^{x→y} = row-softmax(s · x yᵀ), S_pred^{y→x} = row-softmax(s · y xᵀ).

    The paper writes KL(S_pred, S_target), but with a one-hot target row that direction is
    infinite (pred mass where the target is 0), so this is KL(target ‖ pred). With ε above
    every off-diagonal similarity the target is the identity and the loss equals symmetric
    InfoNCE: CE(s·x yᵀ, arange) + CE(s·y xᵀ, arange). The rows of targetᵀ are re-normalised
    so each is a distribution (a no-op when target is symmetric).
    """
    _check_pair(x, y, target)
    return _local_alignment_loss(x, y, x, y, target, logit_scale, offset=0)


def _check_pair(x: Tensor, y: Tensor, target: Tensor) -> None:
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"x and y must both be (B, C), got {tuple(x.shape)} and {tuple(y.shape)}")
    if target.shape != (x.shape[0], x.shape[0]):
        raise ValueError(f"target must be (B, B) = {(x.shape[0],) * 2}, got {tuple(target.shape)}")


# ---------------------------------------------------------------------------------------
# Reconstruction
# ---------------------------------------------------------------------------------------


def _reconstruction_sum(pred: Tensor, target: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Sum of squared errors over valid frames and the number of valid values (frames × D)."""
    if pred.ndim != 3 or pred.shape != target.shape:
        raise ValueError(f"pred and target must both be (B, T, D), got {tuple(pred.shape)} and {tuple(target.shape)}")
    if mask.shape != pred.shape[:2] or mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool (B, T) = {tuple(pred.shape[:2])}, got {mask.dtype} {tuple(mask.shape)}")
    diff = pred[mask] - target[mask]  # (valid frames, D); padded frames never enter
    count = torch.tensor(diff.numel(), dtype=pred.dtype, device=pred.device)
    return diff.pow(2).sum(), count


def reconstruction_loss(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """MSE over valid frames only: pred, target (B, T, D), mask (B, T) bool, True = valid frame."""
    squared, count = _reconstruction_sum(pred, target, mask)
    if count.item() == 0:
        raise ValueError("reconstruction mask has no valid frame")
    return squared / count


def _distributed_reconstruction_loss(pred: Tensor, target: Tensor, mask: Tensor, world: World) -> Tensor:
    """Local squared-error sum / (global valid count / W): the ranks' mean is the global MSE."""
    squared, count = _reconstruction_sum(pred, target, mask)
    total = _all_reduce_sum(count, world)
    if total.item() == 0:
        raise ValueError("reconstruction mask has no valid frame on any rank")
    return squared * world.size / total


# ---------------------------------------------------------------------------------------
# Weighted total
# ---------------------------------------------------------------------------------------


def term_name(pair: tuple[str, str]) -> str:
    """("motion", "text") -> "align/motion-text"."""
    return f"align/{pair[0]}-{pair[1]}"


@dataclass(frozen=True)
class LossWeights:
    """Weight per modality pair (one alignment term each) and of the reconstruction term."""

    pairs: Mapping[tuple[str, str], float] = field(default_factory=lambda: dict.fromkeys(TRI_MODAL_PAIRS, 1.0))
    reconstruction: float = 0.1

    def __post_init__(self) -> None:
        if not self.pairs:
            raise ValueError("loss weights need at least one modality pair")
        for pair, weight in self.pairs.items():
            if len(pair) != 2 or pair[0] == pair[1] or not set(pair) <= set(MODALITIES):
                raise ValueError(f"loss pair {pair!r} must be two different modalities of {MODALITIES}")
            _check_weight(f"pair {pair!r}", weight)
        _check_weight("reconstruction", self.reconstruction)
        object.__setattr__(self, "pairs", MappingProxyType({tuple(p): float(w) for p, w in self.pairs.items()}))

    @classmethod
    def tri_modal(cls, reconstruction: float = 0.1, pair_weight: float = 1.0) -> LossWeights:
        """The paper's loss: motion-text, motion-video and text-video alignment plus reconstruction."""
        return cls(pairs=dict.fromkeys(TRI_MODAL_PAIRS, pair_weight), reconstruction=reconstruction)

    @classmethod
    def two_modal(cls, reconstruction: float = 0.1) -> LossWeights:
        """The 2-modal ablation: motion-text alignment plus reconstruction."""
        return cls(pairs={("motion", "text"): 1.0}, reconstruction=reconstruction)


def _check_weight(name: str, weight: float) -> None:
    if not (isinstance(weight, (int, float)) and math.isfinite(weight) and weight >= 0):
        raise ValueError(f"loss weight of {name} must be a finite number ≥ 0, got {weight!r}")


@dataclass
class LossOutput:
    """The weighted total and every unweighted term by name ("align/motion-text", ..., "recon")."""

    total: Tensor
    terms: dict[str, Tensor]

    def scalars(self) -> dict[str, float]:
        """Detached floats for logging: {"total": ..., "align/motion-text": ..., ...}."""
        return {"total": float(self.total.detach()), **{k: float(v.detach()) for k, v in self.terms.items()}}


class LavimoLoss(nn.Module):
    """L = Σ_pairs w_pair · L_align(pair) + λ_recon · L_recon, gathered over ranks when distributed.

    ``world`` fixes rank and world size; left as None, each call reads them once from
    torch.distributed (a single process when no group is initialised). ``epsilon`` None
    turns negative filtering off (one-hot targets; sentence embeddings not needed).
    """

    def __init__(self, weights: LossWeights | None = None, epsilon: float | None = 0.8, world: World | None = None):
        super().__init__()
        if epsilon is not None and not epsilon > 0:
            raise ValueError(f"epsilon must be > 0 or None (no filtering), got {epsilon}")
        self.weights = weights if weights is not None else LossWeights.tri_modal()
        self.epsilon = epsilon
        self.world = world

    def forward(
        self,
        embeddings: Mapping[str, Tensor],  # modality -> (b, C), L2-normalised
        sentence_emb: Tensor | None,  # (b, E) caption embeddings for negative filtering
        logit_scale: Tensor | float,  # 1/τ
        reconstruction: Tensor | None = None,  # (b, T, D) decoded motion
        motion_target: Tensor | None = None,  # (b, T, D)
        motion_mask: Tensor | None = None,  # (b, T) bool, True = valid frame
    ) -> LossOutput:
        world = self.world if self.world is not None else World.from_torch()
        local_batch, device = self._check_embeddings(embeddings, sentence_emb)
        check_equal_batch_sizes(local_batch, world, device)
        terms = self._alignment_terms(embeddings, sentence_emb, logit_scale, world, local_batch)
        weighted = [self.weights.pairs[pair] * terms[term_name(pair)] for pair in self.weights.pairs]
        recon_inputs = (reconstruction, motion_target, motion_mask)
        if any(t is not None for t in recon_inputs):
            if any(t is None for t in recon_inputs):
                raise ValueError("reconstruction needs all of reconstruction, motion_target and motion_mask")
            terms["recon"] = _distributed_reconstruction_loss(*recon_inputs, world)
            weighted.append(self.weights.reconstruction * terms["recon"])
        elif self.weights.reconstruction > 0:
            raise ValueError(
                f"the reconstruction weight is {self.weights.reconstruction} but no reconstruction was passed; "
                "pass reconstruction, motion_target and motion_mask, or set the weight to 0"
            )
        return LossOutput(total=torch.stack(weighted).sum(), terms=terms)

    def _used_modalities(self) -> list[str]:
        """Modalities of the weighted pairs, in the fixed MODALITIES order (so every rank gathers alike)."""
        used = {m for pair in self.weights.pairs for m in pair}
        return [m for m in MODALITIES if m in used]

    def _check_embeddings(
        self, embeddings: Mapping[str, Tensor], sentence_emb: Tensor | None
    ) -> tuple[int, torch.device]:
        """Every weighted pair's modalities are present as (b, C) with one b; returns (b, device)."""
        batches = {}
        for modality in self._used_modalities():
            emb = embeddings.get(modality)
            if emb is None:
                pairs = [p for p in self.weights.pairs if modality in p]
                raise ValueError(f"embeddings for modality '{modality}' are missing but the loss weights pairs {pairs}")
            if emb.ndim != 2:
                raise ValueError(f"embeddings['{modality}'] must be (B, C), got shape {tuple(emb.shape)}")
            batches[modality] = emb.shape[0]
        if self.epsilon is not None:
            if sentence_emb is None:
                raise ValueError("negative filtering (epsilon set) needs sentence_emb; pass epsilon=None to disable it")
            batches["sentence_emb"] = sentence_emb.shape[0]
        if len(set(batches.values())) != 1:
            raise ValueError(f"all inputs must share the batch size, got {batches}")
        first = embeddings[self._used_modalities()[0]]
        return first.shape[0], first.device

    def _alignment_terms(
        self,
        embeddings: Mapping[str, Tensor],
        sentence_emb: Tensor | None,
        logit_scale: Tensor | float,
        world: World,
        local_batch: int,
    ) -> dict[str, Tensor]:
        """One unweighted alignment term per weighted pair: local rows against the global batch."""
        gathered = {m: gather_rows(embeddings[m], world) for m in self._used_modalities()}  # m -> (N, C)
        targets = self._targets(sentence_emb, world, local_batch, next(iter(gathered.values())))  # (N, N)
        offset = world.rank * local_batch
        terms = {}
        for x, y in self.weights.pairs:
            terms[term_name((x, y))] = _local_alignment_loss(
                embeddings[x], embeddings[y], gathered[x], gathered[y], targets, logit_scale, offset
            )
        return terms

    def _targets(self, sentence_emb: Tensor | None, world: World, local_batch: int, like: Tensor) -> Tensor:
        """(N, N) soft targets over the global batch (identity without filtering)."""
        if self.epsilon is None:
            return torch.eye(local_batch * world.size, dtype=like.dtype, device=like.device)
        sentence_all = _gather_rows_no_grad(sentence_emb.to(like.device), world)  # (N, E)
        return negative_filtering_targets(sentence_all, self.epsilon)
