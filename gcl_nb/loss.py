"""The GCL loss: weighted in-batch contrastive loss over fused query (LHS) and document (RHS) embeddings.

Batch of N pairs (l_i, r_i), logits z_ij = t * <l_i, r_j> (t = exp(logit scale), embeddings L2-normalised).

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
`"sum_w"` by sum_i w_i (sum_i m_i for a matrix), i.e. a weighted mean; `same_query=None` keeps other rows of
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

from typing import Callable, Optional, Union

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from gcl_nb.weights import STW, get_stw

NORMALIZE = ("n", "sum_w")
SAME_QUERY = (None, "none", "mask")
TARGETS = ("diagonal", "multipos")


def _same_query_mask(query_ids: Tensor, n: int) -> Tensor:
    """M_ik = True when rows i != k belong to the same query."""
    if query_ids is None or query_ids.shape != (n,):
        raise ValueError(f"same_query='mask' needs query_ids of shape ({n},), got "
                         f"{None if query_ids is None else tuple(query_ids.shape)}")
    same = query_ids[:, None] == query_ids[None, :]
    return same & ~torch.eye(n, dtype=torch.bool, device=query_ids.device)


def _diagonal_terms(logits: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
    """Per-row w_i * -log softmax_j(z_ij)[i] and the row weights w_i."""
    labels = torch.arange(logits.shape[0], device=logits.device)
    return weights * F.cross_entropy(logits, labels, reduction="none"), weights


def _target_terms(logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Per-row m_i * -sum_j p_ij log softmax_j(z_ij) and the row weights m_i = max_j T_ij."""
    row_max = target.max(dim=1).values
    p = target / target.sum(dim=1, keepdim=True).clamp_min(torch.finfo(target.dtype).tiny)
    log_p_model = F.log_softmax(logits, dim=1)
    cross_entropy = -torch.where(p > 0, p * log_p_model, torch.zeros_like(p)).sum(dim=1)
    return row_max * cross_entropy, row_max


def gcl_loss(
    query_emb: Tensor,
    doc_emb: Tensor,
    weights: Tensor,
    logit_scale: Union[Tensor, float],
    *,
    symmetric: bool = True,
    normalize: str = "n",
    same_query: Optional[str] = None,
    query_ids: Optional[Tensor] = None,
) -> Tensor:
    """GCL loss (module docstring) of a batch; `weights` (N,) = diagonal target, (N, N) = target matrix."""
    n = query_emb.shape[0]
    if doc_emb.shape[0] != n:
        raise ValueError(f"query_emb has {n} rows but doc_emb has {doc_emb.shape[0]}: pass one document per query")
    if normalize not in NORMALIZE:
        raise ValueError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
    if same_query not in SAME_QUERY:
        raise ValueError(f"same_query must be one of {SAME_QUERY}, got {same_query!r}")
    if weights.shape not in ((n,), (n, n)):
        raise ValueError(f"weights must have shape ({n},) or ({n}, {n}), got {tuple(weights.shape)}")

    with torch.autocast(device_type=query_emb.device.type, enabled=False):
        logits = logit_scale * query_emb.float() @ doc_emb.float().T
        weights = weights.to(device=logits.device, dtype=torch.float32)
        full = weights.dim() == 2
        if same_query == "mask":
            mask = _same_query_mask(query_ids.to(logits.device) if query_ids is not None else None, n)
            if full:
                mask = mask & (weights == 0)
            logits = logits.masked_fill(mask, float("-inf"))
        terms = _target_terms if full else _diagonal_terms

        losses = []
        for z, w in ((logits, weights), (logits.T, weights.T if full else weights))[: 2 if symmetric else 1]:
            per_row, row_weight = terms(z, w)
            denom = n if normalize == "n" else row_weight.sum()
            losses.append(per_row.sum() / denom)
        return sum(losses) / len(losses)


def _gather(tensor: Tensor, with_grad: bool) -> Tensor:
    """Concatenate `tensor` from every rank along dim 0 (rank order); gradients flow back when with_grad."""
    if with_grad:
        return torch.cat(torch.distributed.nn.functional.all_gather(tensor), dim=0)
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts, dim=0)


class GCLLoss(nn.Module):
    """GCL loss of a training batch: scores -> STW weights (or a multi-positive target matrix) -> gcl_loss.

    `stw`: preset name or callable (see gcl_nb.weights), `stw_options`: get_stw keywords (rescale, w_min, ...).
    `target="diagonal"` (the paper) weights each pair by STW(score); `"multipos"` builds T from
    `lookup.matrix(query_codes, doc_codes)` (raw scores, 0 where the pair is not in the training table),
    applying the STW to the nonzero entries only. Under torch.distributed (world size > 1) embeddings are
    gathered with gradients and codes/scores without, so every rank's loss is the loss of the global batch
    (like open_clip's gather_with_grad without local_loss); DDP's gradient average then equals the
    single-process gradient on the concatenated batch.
    """

    def __init__(
        self,
        stw: Union[str, STW] = "constant",
        *,
        stw_options: Optional[dict] = None,
        target: str = "diagonal",
        lookup=None,
        symmetric: bool = True,
        normalize: str = "n",
        same_query: Optional[str] = None,
    ):
        super().__init__()
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        if target == "multipos" and lookup is None:
            raise ValueError("target='multipos' needs lookup= (a gcl_nb.data.torch_data.PairLookup)")
        if normalize not in NORMALIZE or same_query not in SAME_QUERY:
            raise ValueError(f"normalize must be one of {NORMALIZE} and same_query one of {SAME_QUERY}")
        self.stw: Callable[[Tensor], Tensor] = get_stw(stw, **(stw_options or {}))
        self.target, self.lookup = target, lookup
        self.options = dict(symmetric=symmetric, normalize=normalize, same_query=same_query)

    def target_matrix(self, query_codes: Tensor, doc_codes: Tensor) -> Tensor:
        """T_ij = STW(raw score of (query_i, doc_j)) where the pair is in the training table, else 0."""
        raw = torch.as_tensor(self.lookup.matrix(query_codes.cpu(), doc_codes.cpu()), dtype=torch.float32)
        target = torch.zeros_like(raw)
        present = raw != 0
        target[present] = self.stw(raw[present]).float()
        return target

    def forward(
        self,
        query_emb: Tensor,
        doc_emb: Tensor,
        logit_scale: Tensor,
        scores: Tensor,
        query_codes: Optional[Tensor] = None,
        doc_codes: Optional[Tensor] = None,
    ) -> Tensor:
        """Loss of a batch: fused embeddings, exp'd logit scale, raw scores (N,), query/doc codes (N,)."""
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            query_emb, doc_emb = _gather(query_emb, True), _gather(doc_emb, True)
            scores = _gather(scores.to(query_emb.device), False)
            if query_codes is not None:
                query_codes = _gather(query_codes.to(query_emb.device), False)
            if doc_codes is not None:
                doc_codes = _gather(doc_codes.to(query_emb.device), False)
        if self.target == "multipos":
            if query_codes is None or doc_codes is None:
                raise ValueError("target='multipos' needs query_codes and doc_codes for every batch")
            weights = self.target_matrix(query_codes, doc_codes).to(query_emb.device)
        else:
            # the STW's checks read values: on CPU scores (as the training loop passes them) that costs no GPU sync
            weights = self.stw(scores.float()).to(query_emb.device, non_blocking=True)
        return gcl_loss(query_emb, doc_emb, weights, logit_scale, query_ids=query_codes, **self.options)
