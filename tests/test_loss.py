import math
import os
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from open_clip.loss import ClipLoss

from gcl_nb.data.datasets import pair_codes
from gcl_nb.data.pair_lookup import PairLookup
from gcl_nb.losses.gcl_loss import GCLLoss, gcl_loss
from gcl_nb.losses.weights import get_rescaling, get_stw


def unit_rows(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, d, generator=g), dim=-1)


def test_constant_weights_equal_open_clip_cliploss():
    q, d = unit_rows(16, 32, 0), unit_rows(16, 32, 1)
    scale = torch.tensor(14.3)
    expected = ClipLoss()(q, d, scale)
    assert torch.allclose(gcl_loss(q, d, torch.ones(16), scale), expected, atol=1e-6)
    gcl = GCLLoss("constant")(q, d, scale, scores=torch.rand(16) * 100)
    assert torch.allclose(gcl, expected, atol=1e-6)


@pytest.mark.parametrize(
    "stw, stw_params, rescale, w_min",
    [("linear", None, "mean", 0.1), ("linear", None, None, 0.1), ("reciprocal", {"top": 120.0}, "range", 0.4)],
)
def test_diagonal_weights_are_the_stw_then_the_batch_rescaling(stw, stw_params, rescale, w_min):
    q, d = unit_rows(10, 16, 8), unit_rows(10, 16, 9)
    scores = torch.arange(1.0, 101.0, 10.0)
    weights = get_rescaling(rescale, w_min)(get_stw(stw, **(stw_params or {}))(scores))
    got = GCLLoss(stw, stw_params=stw_params, rescale=rescale, w_min=w_min)(q, d, 10.0, scores)
    assert torch.equal(got, gcl_loss(q, d, weights, 10.0))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(rescale="max"), ValueError, "unknown STW rescaling"),
        (dict(rescale="range", w_min=1.5), ValueError, "w_min"),
        (dict(stw="linear", stw_params={"rescale": "mean"}), ValueError, "no parameter rescale"),
        (dict(stw=abs, stw_params={"scale": 2.0}), ValueError, "only apply to the named presets"),
        (dict(stw_options={"rescale": "mean"}), TypeError, "stw_options"),
    ],
)
def test_loss_options_are_checked_when_the_loss_is_built(kwargs, error, match):
    with pytest.raises(error, match=match):
        GCLLoss(**kwargs)


# Hand example: d = identity, q rows below, t = 2, so z = 2 q:
#   z = [[2, 0, 0], [1.2, 1.6, 0], [0, 1.2, 1.6]], w = (3, 2, 1).
Q = torch.tensor([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.6, 0.8]])
W = torch.tensor([3.0, 2.0, 1.0])
E = math.exp
ROWS = [math.log(E(2) + 2) - 2, math.log(E(1.2) + E(1.6) + 1) - 1.6, math.log(1 + E(1.2) + E(1.6)) - 1.6]
COLS = [math.log(E(2) + E(1.2) + 1) - 2, math.log(1 + E(1.6) + E(1.2)) - 1.6, math.log(2 + E(1.6)) - 1.6]


def weighted(terms, denom):
    return sum(w * t for w, t in zip(W.tolist(), terms)) / denom


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("normalize, denom", [("n", 3.0), ("sum_w", 6.0)])
def test_hand_computed_3x3(symmetric, normalize, denom):
    q2d, d2q = weighted(ROWS, denom), weighted(COLS, denom)
    expected = (q2d + d2q) / 2 if symmetric else q2d
    got = gcl_loss(Q, torch.eye(3), W, 2.0, symmetric=symmetric, normalize=normalize)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_mask_removes_same_query_rows_from_the_softmax():
    # rows 0 and 1 share a query: z_01 and z_10 leave the denominators of row 0/1 and column 0/1.
    rows = [math.log(E(2) + 1) - 2, math.log(E(1.6) + 1) - 1.6, ROWS[2]]
    cols = [math.log(E(2) + 1) - 2, math.log(E(1.6) + E(1.2)) - 1.6, COLS[2]]
    expected = (weighted(rows, 3) + weighted(cols, 3)) / 2
    ids = torch.tensor([7, 7, 9])
    got = gcl_loss(Q, torch.eye(3), W, 2.0, same_query="mask", query_ids=ids)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    distinct = gcl_loss(Q, torch.eye(3), W, 2.0, same_query="mask", query_ids=torch.arange(3))
    assert torch.allclose(distinct, gcl_loss(Q, torch.eye(3), W, 2.0))
    with pytest.raises(ValueError, match="needs query_ids"):
        gcl_loss(Q, torch.eye(3), W, 2.0, same_query="mask")


def test_target_matrix_generalises_the_diagonal():
    q, d = unit_rows(8, 16, 2), unit_rows(8, 16, 3)
    w = torch.rand(8) + 0.5
    for normalize in ("n", "sum_w"):
        assert torch.allclose(
            gcl_loss(q, d, torch.eye(8), 10.0, normalize=normalize), ClipLoss()(q, d, 10.0), atol=1e-6
        )
        assert torch.allclose(
            gcl_loss(q, d, torch.diag(w), 10.0, normalize=normalize),
            gcl_loss(q, d, w, 10.0, normalize=normalize),
            atol=1e-6,
        )


def test_multipositive_target_is_optimal_where_softmax_matches_it():
    # Row 0 targets p = (0.5, 0.25, 0.25); logits log p make its q2d gradient vanish. The diagonal
    # target (the paper's) still pushes row 0 away from documents 1 and 2.
    target = torch.tensor([[2.0, 1.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]))
    for weights, vanishes in ((target, True), (torch.diagonal(target), False)):
        q = logits.clone().requires_grad_(True)
        gcl_loss(q, torch.eye(3), weights, 1.0, symmetric=False).backward()
        assert torch.allclose(q.grad[0], torch.zeros(3), atol=1e-7) == vanishes
    # row term = m_0 * cross-entropy(p, softmax) = 2 * H(p); other rows: -log of their diagonal.
    h = -(0.5 * math.log(0.5) + 0.5 * math.log(0.25))
    expected = (2 * h - math.log(0.8) - math.log(0.6)) / 3
    assert gcl_loss(logits, torch.eye(3), target, 1.0, symmetric=False).item() == pytest.approx(expected)


def test_mask_keeps_positives_of_a_target_matrix():
    q, d = unit_rows(3, 8, 4), unit_rows(3, 8, 5)
    ids = torch.tensor([0, 0, 1])
    both = torch.tensor([[3.0, 2.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 1.0]])
    assert torch.allclose(gcl_loss(q, d, both, 5.0, same_query="mask", query_ids=ids), gcl_loss(q, d, both, 5.0))
    one_way = torch.tensor([[3.0, 2.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0]])  # z_10 is masked
    assert not torch.allclose(
        gcl_loss(q, d, one_way, 5.0, same_query="mask", query_ids=ids), gcl_loss(q, d, one_way, 5.0)
    )


def lookup_and_codes(table, batch):
    """PairLookup of `table` {(query, product): score} and (query_codes, doc_codes) of `batch` [(query, product)]."""
    pairs = pd.DataFrame([(q, d, s) for (q, d), s in table.items()], columns=["query", "product_id", "score_linear"])
    lookup = PairLookup(pairs)
    return lookup, (
        torch.as_tensor(lookup.queries.get_indexer([q for q, _ in batch])),
        torch.as_tensor(lookup.product_ids.get_indexer([d for _, d in batch])),
    )


def test_gcl_loss_module_builds_multipos_targets_from_the_lookup():
    batch = [("a", "x"), ("a", "y"), ("b", "z")]
    lookup, codes = lookup_and_codes({("a", "x"): 90, ("a", "y"): 45, ("b", "z"): 30}, batch)
    loss = GCLLoss("linear", rescale="range", w_min=0.5, target="multipos", lookup=lookup)
    target = loss.target_matrix(*codes)
    # the table pairs' raw scores (90, 45, 45, 30) rescaled into [0.5, 1]; other entries stay zero
    expected = torch.tensor([[1.0, 0.625, 0.0], [1.0, 0.625, 0.0], [0.0, 0.0, 0.5]])
    assert torch.allclose(target, expected)
    with pytest.raises(ValueError, match="needs lookup"):
        GCLLoss(target="multipos")


def random_table_and_batch(seed, n_rows, n_batch):
    """A pair table with repeated (query, product) pairs, and a batch of its rows plus rows of pairs absent
    from it (products of other queries), so queries and products repeat within the batch."""
    rng = np.random.default_rng(seed)
    queries, products = rng.integers(0, 30, n_rows), rng.integers(0, 60, n_rows)
    pairs = pd.DataFrame(
        {
            "query": [f"q{q}" for q in queries],
            "product_id": [f"p{d}" for d in products],
            "score_linear": rng.integers(0, 101, n_rows).astype(float),
        }
    )
    rows = rng.integers(0, n_rows, n_batch)
    query_codes, _, doc_codes, _ = pair_codes(pairs)
    return pairs, torch.as_tensor(query_codes[rows]), torch.as_tensor(rng.permutation(doc_codes[rows]))


def brute_force_scores(pairs, query_codes, doc_codes):
    """(raw, present): the score of each (query_i, doc_j) from a dict of the table (first row of a repeated pair)."""
    q, queries, d, products = pair_codes(pairs)
    table = {}
    for key, score in zip(zip(q.tolist(), d.tolist()), pairs["score_linear"]):
        table.setdefault(key, score)
    keys = [[(a, b) for b in doc_codes.tolist()] for a in query_codes.tolist()]
    return (
        torch.tensor([[float(table.get(k, 0.0)) for k in row] for row in keys]),
        torch.tensor([[k in table for k in row] for row in keys]),
    )


@pytest.mark.parametrize("seed", range(6))
def test_lookup_matches_a_brute_force_table_lookup(seed):
    pairs, query_codes, doc_codes = random_table_and_batch(seed, n_rows=400, n_batch=64)
    assert pairs.duplicated(["query", "product_id"]).any()
    assert len(doc_codes.unique()) < len(doc_codes)  # a document in several batch columns
    lookup = PairLookup(pairs)
    raw, present = brute_force_scores(pairs, query_codes, doc_codes)
    assert present.any() and not present.all() and len(lookup) == (~pairs.duplicated(["query", "product_id"])).sum()
    assert torch.equal(lookup.matrix(query_codes, doc_codes), raw)
    assert torch.equal(lookup.find(query_codes, doc_codes)[1], present)
    assert torch.equal(lookup.matrix(query_codes[:5], doc_codes), raw[:5])  # not square


@pytest.mark.parametrize(
    "stw, options",
    [
        ("linear", {"rescale": "mean"}),
        ("reciprocal", {"rescale": "range"}),
        ("constant", {}),
        (lambda s: s**2, {"rescale": "mean"}),
        ("linear", {"stw_params": {"scale": 2.0}, "rescale": "range", "w_min": 0.3}),
    ],
)
def test_target_matrix_is_the_stw_of_the_batch_table_pairs(stw, options):
    pairs, query_codes, doc_codes = random_table_and_batch(7, n_rows=300, n_batch=48)
    raw, present = brute_force_scores(pairs, query_codes, doc_codes)
    expected = torch.zeros_like(raw)
    rescaling = get_rescaling(options.get("rescale"), options.get("w_min", 0.1))
    pair_weight = get_stw(stw, **options.get("stw_params", {}))
    expected[present] = rescaling(pair_weight(raw[present]))  # the STW, then the rescaling over the table pairs
    got = GCLLoss(stw, **options, target="multipos", lookup=PairLookup(pairs)).target_matrix(query_codes, doc_codes)
    assert torch.allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("options", [{}, {"same_query": "mask"}, {"target": "multipos", "same_query": "mask"}])
def test_gradients_are_finite(options):
    q = unit_rows(6, 8, 6).requires_grad_(True)
    d = unit_rows(6, 8, 7).requires_grad_(True)
    scale = torch.tensor(math.log(1 / 0.07), requires_grad=True)
    batch = [(f"q{i // 3}", f"p{i}") for i in range(6)]
    lookup, (codes_q, codes_d) = lookup_and_codes({pair: 100 - i for i, pair in enumerate(batch)}, batch)
    loss = GCLLoss("reciprocal", lookup=lookup, **options)(q, d, scale.exp(), 100.0 - codes_d, codes_q, codes_d)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(t.grad).all() for t in (q, d, scale))


def reference_multipos_loss(q, d, target, scale, symmetric, normalize, query_ids):
    """The module docstring's target-matrix formula, written out directly."""
    n = len(q)
    logits = scale * q @ d.T
    if query_ids is not None:
        same = (query_ids[:, None] == query_ids[None, :]) & ~torch.eye(n, dtype=torch.bool)
        logits = logits.masked_fill(same & (target == 0), -math.inf)
    directions = [(logits, target), (logits.T, target.T)][: 2 if symmetric else 1]
    losses = []
    for z, t in directions:
        row_weight = t.amax(1)
        p = torch.where(t > 0, t / t.sum(1, keepdim=True), 0.0)
        per_row = -torch.where(t > 0, p * z.log_softmax(1), 0.0).sum(1)
        losses.append((row_weight * per_row).sum() / (n if normalize == "n" else row_weight.sum()))
    return sum(losses) / len(losses)


def random_multipos_batch(n, seed):
    """float64 unit embeddings, a sparse target (an empty row and column) and a log logit scale."""
    g = torch.Generator().manual_seed(seed)
    q, d = (F.normalize(torch.randn(n, 16, generator=g, dtype=torch.float64), dim=1) for _ in range(2))
    target = torch.rand(n, n, generator=g, dtype=torch.float64) * (torch.rand(n, n, generator=g) < 3 / n)
    target.fill_diagonal_(1.0)
    target[0], target[:, 1] = 0.0, 0.0
    return q.requires_grad_(), d.requires_grad_(), target, torch.tensor(2.5, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("n", [5, 64, 300])
@pytest.mark.parametrize("same_query", ["none", "mask"])
@pytest.mark.parametrize("normalize", ["n", "sum_w"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_multipositive_loss_and_gradients_equal_the_formula_in_float64(n, same_query, normalize, symmetric):
    q, d, target, log_scale = random_multipos_batch(n, seed=n)
    query_ids = torch.randint(0, max(1, n // 3), (n,), generator=torch.Generator().manual_seed(1))
    options = dict(symmetric=symmetric, normalize=normalize)
    got = gcl_loss(q, d, target, log_scale.exp(), same_query=same_query, query_ids=query_ids, **options)
    ids = query_ids if same_query == "mask" else None
    expected = reference_multipos_loss(q, d, target, log_scale.exp(), query_ids=ids, **options)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=0.0)
    for grad, grad_expected in zip(
        torch.autograd.grad(got, (q, d, log_scale)), torch.autograd.grad(expected, (q, d, log_scale))
    ):
        torch.testing.assert_close(grad, grad_expected, rtol=1e-12, atol=1e-12 * float(grad_expected.abs().max()))


# --- 2 processes (gloo) == 1 process on the concatenated batch -------------------------------------------
N, DIM = 8, 6
BATCH = [(f"q{i // 2}", f"p{i}") for i in range(N)]
TABLE = {pair: 100 - i for i, pair in enumerate(BATCH)} | {("q0", "p2"): 50, ("q3", "p1"): 20}


def batch_and_model():
    torch.manual_seed(0)
    model = torch.nn.ModuleDict({"lhs": torch.nn.Linear(DIM, 4), "rhs": torch.nn.Linear(DIM, 4)})
    g = torch.Generator().manual_seed(1)
    x_q, x_d = torch.randn(N, DIM, generator=g), torch.randn(N, DIM, generator=g)
    _, (q_codes, d_codes) = lookup_and_codes(TABLE, BATCH)
    return model, (x_q, x_d, 100.0 - torch.arange(N), q_codes, d_codes)


def loss_and_grads(model, batch, options, distributed=False):
    x_q, x_d, scores, q_codes, d_codes = batch
    q, d = F.normalize(model["lhs"](x_q), dim=-1), F.normalize(model["rhs"](x_d), dim=-1)
    lookup, _ = lookup_and_codes(TABLE, BATCH)
    loss = GCLLoss("linear", lookup=lookup, **options)(q, d, 10.0, scores, q_codes, d_codes)
    loss.backward()
    if distributed:  # average the gradients over ranks, as DistributedDataParallel does
        for p in model.parameters():
            dist.all_reduce(p.grad)
            p.grad /= dist.get_world_size()
    return loss.detach(), [p.grad.clone() for p in model.parameters()]


def _worker(rank, world_size, init_file, out_dir, option_sets):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    results = []
    for options in option_sets:
        model, batch = batch_and_model()
        half = [t.chunk(world_size)[rank] for t in batch]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loss, grads = loss_and_grads(model, half, options, distributed=True)
        results.append((loss, grads, [f"{w.category.__name__}: {w.message}" for w in caught]))
    torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


def test_two_process_gloo_matches_one_process_without_warnings(tmp_path):
    option_sets = [
        {},
        {"rescale": "mean"},
        {"target": "multipos", "same_query": "mask", "normalize": "sum_w"},
        {"target": "multipos", "rescale": "range"},
    ]
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path), option_sets), nprocs=2)
    for i, options in enumerate(option_sets):
        model, batch = batch_and_model()
        loss, grads = loss_and_grads(model, batch, options)
        for rank in range(2):
            r_loss, r_grads, r_warnings = torch.load(tmp_path / f"rank{rank}.pt")[i]
            assert torch.allclose(r_loss, loss, atol=1e-6)
            assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(r_grads, grads))
            assert r_warnings == []
