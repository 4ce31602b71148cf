"""The GCL loss: weighted in-batch contrastive loss over fused query (LHS) and document (RHS) embeddings.

Batch of N pairs (q_i, d_i), logits z_ij = t * <q_i, d_j> (embeddings L2-normalised; t is the logit scale, passed
as `logit_scale`: the exp of the log the model learns; the softmax temperature is tau = 1/t). Notation as in
docs/METHOD.md.

Diagonal target (the paper's; `weights` of shape (N,), w_i = STW(score_i)):
    L_q2d = -(1/N) sum_i w_i log softmax_j(z_ij)[i]
    L_d2q = -(1/N) sum_j w_j log softmax_i(z_ij)[j]
    L     = (L_q2d + L_d2q) / 2
With w == 1 this is CLIP's InfoNCE (open_clip ClipLoss). Other documents of the same query in the batch
count as negatives.

Full target matrix (our multi-positive extension; `weights` T of shape (N, N), T_ij >= 0 the STW of the
score of (query_i, doc_j) when that pair is in the training table, else 0):
    m_i = max_j T_ij,  p_ij = T_ij / sum_j T_ij
    L_q2d = -(1/N) sum_i m_i sum_j p_ij log softmax_j(z_ij)
and L_d2q likewise over the columns of T. T = diag(w) gives exactly the diagonal form above.

Options (defaults = the paper): `symmetric=True` (False: L = L_q2d only); `normalize="n"` divides by N,
`"sum_w"` by sum_i w_i (sum_i m_i for a matrix), i.e. a weighted mean; `same_query="none"` keeps other rows of
the same query as negatives, `"mask"` removes them from the softmax denominators (for a target matrix only
where T_ij == 0: positives stay).

References:
    - T. Zhu, M. C. Jung, J. Clark. Generalized Contrastive Learning for Multi-Modal Retrieval and Ranking.
      arXiv:2404.08535 (the diagonal target; the multi-positive target is the project's extension).
    - A. Radford et al. Learning transferable visual models from natural language supervision. ICML 2021,
      arXiv:2103.00020 (the symmetric InfoNCE loss, w == 1; open_clip's ClipLoss).
    - docs/METHOD.md "The method".
"""

from __future__ import annotations

from typing import Optional, Union

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from gcl_nb.losses.weights import STW, Rescaling, get_rescaling, get_stw

#: the loss's options and their allowed values (check_loss_options)
LOSS_OPTIONS = {"target": ("diagonal", "multipos"), "normalize": ("n", "sum_w"), "same_query": ("none", "mask")}
# torch 2.14 renamed all_gather_into_tensor (now deprecated) to all_gather_single; GPU machines may bring an older torch
_all_gather_single = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor


def check_loss_options(**options: str) -> None:
    """ValueError naming the first option (of LOSS_OPTIONS) whose value is not one of its allowed values."""
    for option, value in options.items():
        if value not in LOSS_OPTIONS[option]:
            raise ValueError(f"{option}={value!r}: choose one of {', '.join(LOSS_OPTIONS[option])}")


def _same_query_mask(query_ids: Tensor, n: int) -> Tensor:
    """M_ik = True when rows i != k belong to the same query."""
    if query_ids is None or query_ids.shape != (n,):
        raise ValueError(
            f"same_query='mask' needs query_ids of shape ({n},), got "
            f"{None if query_ids is None else tuple(query_ids.shape)}"
        )
    same = query_ids[:, None] == query_ids[None, :]
    return same & ~torch.eye(n, dtype=torch.bool, device=query_ids.device)


def gcl_loss(
    query_emb: Tensor,
    doc_emb: Tensor,
    weights: Tensor,
    logit_scale: Union[Tensor, float],
    *,
    symmetric: bool = True,
    normalize: str = "n",
    same_query: str = "none",
    query_ids: Optional[Tensor] = None,
) -> Tensor:
    """GCL loss (module docstring) of a batch; `weights` (N,) = diagonal target, (N, N) = target matrix."""
    check_loss_options(normalize=normalize, same_query=same_query)
    n = query_emb.shape[0]
    if doc_emb.shape[0] != n:
        raise ValueError(f"query_emb has {n} rows but doc_emb has {doc_emb.shape[0]}: pass one document per query")
    if weights.shape not in ((n,), (n, n)):
        raise ValueError(f"weights must have shape ({n},) or ({n}, {n}), got {tuple(weights.shape)}")

    with torch.autocast(device_type=query_emb.device.type, enabled=False):
        dtype = torch.promote_types(query_emb.dtype, torch.float32)  # half precision -> float32, float64 stays
        logits = logit_scale * query_emb.to(dtype) @ doc_emb.to(dtype).T
        weights = weights.to(device=logits.device, dtype=dtype)
        same = None
        if same_query == "mask":
            same = _same_query_mask(query_ids.to(logits.device) if query_ids is not None else None, n)
        if weights.dim() == 2:
            excluded = same & (weights == 0) if same is not None else None
            return _MultiPositiveLoss.apply(logits, weights, excluded, symmetric, normalize == "n")
        masked = logits if same is None else logits.masked_fill(same, float("-inf"))

        losses = []
        for dim in (1, 0)[: 2 if symmetric else 1]:  # softmax over a row (query -> doc), then over a column
            nll = -F.log_softmax(masked, dim=dim).diagonal()  # -log softmax at each row's own pair
            denom = n if normalize == "n" else weights.sum()
            losses.append((weights * nll).sum() / denom)
        return sum(losses) / len(losses)


class _MultiPositiveLoss(torch.autograd.Function):
    """The target-matrix loss of (N, N) logits z (module docstring), gradient to z only, with few N x N passes.

    Per direction (softmax over rows, then columns) the loss is sum_i a_i logsumexp_j z_ij - sum_ij c_ij z_ij with
    a_i = m_i / (denominator * directions) and c_ij = a_i T_ij / sum_j T_ij, so its gradient is
    a_i softmax_j(z_ij) - c_ij. The forward keeps each direction's exp(z - max) for the backward; the positive
    part runs over T's nonzero entries only (finding them is a wait for a GPU). `excluded` (bool, or None)
    leaves entries out of the softmaxes.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, target: Tensor, excluded: Optional[Tensor], symmetric: bool, per_n: bool):
        n, directions = logits.shape[0], 2 if symmetric else 1
        rows, cols = target.nonzero(as_tuple=True)
        values = target[rows, cols]
        if excluded is not None:
            logits = logits.masked_fill(excluded, float("-inf"))
        loss, softmax_parts, positive_weight = logits.new_zeros(()), [], logits.new_zeros(len(values))
        for dim, index in ((1, rows), (0, cols))[:directions]:  # row i's softmax runs over j when dim == 1
            row_weight = logits.new_zeros(n).scatter_reduce_(0, index, values, "amax")
            row_total = logits.new_zeros(n).index_add_(0, index, values).clamp_min(torch.finfo(logits.dtype).tiny)
            scale = row_weight / ((n if per_n else row_weight.sum()) * directions)  # a_i
            top = logits.amax(dim, keepdim=True)
            unnormalised = (logits - top).exp_()
            total = unnormalised.sum(dim, keepdim=True)
            loss += (scale * (top + total.log()).flatten()).sum()
            positive_weight += values * (scale / row_total)[index]  # c_ij of T's nonzero entries
            softmax_parts.append((unnormalised, scale.view(total.shape) / total))
        loss -= (positive_weight * logits[rows, cols]).sum()
        ctx.softmax_parts, ctx.positives = softmax_parts, (rows, cols, positive_weight)
        return loss

    @staticmethod
    def backward(ctx, grad_loss: Tensor):
        (first, first_scale), *rest = ctx.softmax_parts
        grad = first * (grad_loss * first_scale)
        for unnormalised, scale in rest:
            grad.addcmul_(unnormalised, grad_loss * scale)
        rows, cols, positive_weight = ctx.positives
        grad.index_put_((rows, cols), -grad_loss * positive_weight, accumulate=True)
        return grad, None, None, None, None


class _GatherRows(torch.autograd.Function):
    """Every rank's tensor concatenated along dim 0 (rank order), with gradients to this rank's rows.

    Every rank computes the same loss of the gathered batch, so the sum over ranks of the gradients of this
    rank's rows (what a reduce-scatter would give) is world_size times this rank's own: backward returns that,
    without communication, and DistributedDataParallel's average then gives the single-process gradient."""

    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:
        return _gather(tensor)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        world = dist.get_world_size()
        return grad.chunk(world)[dist.get_rank()] * world


def _gather(tensor: Tensor) -> Tensor:
    """Concatenate `tensor` from every rank along dim 0 (rank order), without gradients."""
    tensor = tensor.contiguous()
    out = tensor.new_empty((dist.get_world_size() * tensor.shape[0], *tensor.shape[1:]))
    _all_gather_single(out, tensor)
    return out


class GCLLoss(nn.Module):
    """GCL loss of a training batch: scores -> STW weights (or a multi-positive target matrix) -> batch
    rescaling -> gcl_loss.

    `target="diagonal"` (the paper) weights each pair by STW(score); `"multipos"` builds T from `lookup`
    (a gcl_nb.data.pair_lookup.PairLookup of the training table): T_ij = STW(score of (query_i, doc_j)) where
    that pair is in the table, else 0. The STW is applied once to every score of the table (so it must work
    elementwise); the rescaling runs per batch, over the batch's pairs or T's table pairs. The target is built
    on the embeddings' device without waiting for it. Under torch.distributed (world size > 1) embeddings,
    scores and codes are gathered from every rank, so every rank's loss is the loss of the global batch (like
    open_clip's gather_with_grad without local_loss), rescaled over the global batch; DDP's gradient average
    then equals the single-process gradient on the concatenated batch.

    Args:
        stw: score-to-weight function, a name of gcl_nb.losses.weights.STW_PRESETS or an elementwise callable
            scores -> weights (gcl_nb.losses.weights.get_stw).
        stw_params: the preset's parameters by name, e.g. {"scale": 2.0} (None: its defaults; not with a
            callable).
        rescale: batch rescaling of the weights: None (raw weights), "range" (into [w_min, 1]) or "mean"
            (batch mean 1) (gcl_nb.losses.weights.get_rescaling).
        w_min: lower end of the "range" rescaling, in [0, 1].
        target: "diagonal" (one weight per pair) or "multipos" (target matrix T from `lookup`).
        lookup: PairLookup of the training table; required by target="multipos".
        symmetric: average the query->doc and doc->query terms (False: query->doc only).
        normalize: "n" (divide by the batch size) or "sum_w" (by the sum of the weights).
        same_query: "none" (a batch's other rows of the same query are negatives) or "mask" (out of the
            softmax denominators; needs the query codes).
    """

    def __init__(
        self,
        stw: Union[str, STW] = "constant",
        *,
        stw_params: Optional[dict[str, float]] = None,
        rescale: Optional[str] = None,
        w_min: float = 0.1,
        target: str = "diagonal",
        lookup=None,
        symmetric: bool = True,
        normalize: str = "n",
        same_query: str = "none",
    ):
        super().__init__()
        check_loss_options(target=target, normalize=normalize, same_query=same_query)
        if target == "multipos" and lookup is None:
            raise ValueError("target='multipos' needs lookup= (a gcl_nb.data.pair_lookup.PairLookup)")
        self.pair_weight: STW = get_stw(stw, **(stw_params or {}))  # elementwise: score -> weight
        self.rescaling: Rescaling = get_rescaling(rescale, w_min)  # per batch: weights -> weights
        self.target, self.lookup = target, lookup
        # the STW of every pair of the training table, in the lookup's table order
        self._table_weights = self.pair_weight(lookup.scores).float() if target == "multipos" else None
        self.options = dict(symmetric=symmetric, normalize=normalize, same_query=same_query)

    def target_matrix(self, query_codes: Tensor, doc_codes: Tensor) -> Tensor:
        """T_ij = STW(score of (query_i, doc_j)) where the pair is in the training table, else 0, rescaled over
        the table pairs; on the codes' device."""
        if self._table_weights.device != query_codes.device:
            self._table_weights = self._table_weights.to(query_codes.device)
        return self.lookup.matrix(query_codes, doc_codes, values=self._table_weights, rescaling=self.rescaling)

    def forward(
        self,
        query_emb: Tensor,
        doc_emb: Tensor,
        logit_scale: Tensor,
        scores: Tensor,
        query_codes: Optional[Tensor] = None,
        doc_codes: Optional[Tensor] = None,
    ) -> Tensor:
        """Loss of a batch: fused embeddings, the logit scale t, raw scores (N,), query/doc codes (N,)."""
        device = query_emb.device
        if self.target == "multipos" and (query_codes is None or doc_codes is None):
            raise ValueError("target='multipos' needs query_codes and doc_codes for every batch")
        # the STW's checks read values: on CPU scores (as the training loop passes them) that costs no GPU wait
        weights = self.pair_weight(scores.float()).to(device, non_blocking=True) if self.target == "diagonal" else None
        codes = [c.to(device, non_blocking=True) if c is not None else None for c in (query_codes, doc_codes)]
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            query_emb, doc_emb = _GatherRows.apply(query_emb), _GatherRows.apply(doc_emb)
            weights = _gather(weights) if weights is not None else None
            codes = [_gather(c) if c is not None else None for c in codes]
        query_codes, doc_codes = codes
        if self.target == "multipos":
            weights = self.target_matrix(query_codes, doc_codes)
        else:
            weights = self.rescaling(weights)
        return gcl_loss(query_emb, doc_emb, weights, logit_scale, query_ids=query_codes, **self.options)
