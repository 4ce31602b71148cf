"""gcl_nb.retrieval.dense: chunked exact top-k and faiss indexes against brute force."""

import numpy as np
import pytest
import torch

from gcl_nb.retrieval import dense as retrieval
from gcl_nb.retrieval.dense import build_faiss_index, exact_topk, faiss_topk


def unit_rows(n, d, seed):
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.normalize(x, dim=1)


def brute_force(q, d, k):
    return torch.topk(q @ d.T, min(k, len(d)), dim=1)


@pytest.mark.parametrize("k, query_batch, doc_batch", [(5, 7, 13), (40, 16, 25), (300, 64, 1000), (1, 100, 100)])
def test_exact_topk_matches_brute_force_for_any_chunking(k, query_batch, doc_batch):
    q, d = unit_rows(50, 16, 0), unit_rows(257, 16, 1)
    scores, index = exact_topk(q, d, k, query_batch=query_batch, doc_batch=doc_batch)
    want_s, want_i = brute_force(q, d, k)
    assert scores.shape == index.shape == (50, min(k, 257))
    torch.testing.assert_close(scores, want_s)
    torch.testing.assert_close(torch.gather(q @ d.T, 1, index), want_s)  # same scores, ties aside
    assert (index == want_i).float().mean() > 0.99
    assert bool((scores[:, :-1] >= scores[:, 1:]).all())


@pytest.mark.parametrize("tile", [2048, 100])  # 100: tiles not a multiple of the pruning group
@pytest.mark.parametrize("adversarial", [False, True])
def test_block_pruning_is_exact(adversarial, tile, monkeypatch):
    monkeypatch.setattr(retrieval, "TILE", tile)
    q, d = unit_rows(30, 16, 6), unit_rows(20000, 16, 7)
    if adversarial:  # every block beats the previous ones: nothing can be pruned for query 0
        d = d[torch.argsort(d @ q[0])]
    scores, index = exact_topk(q, d, 50, query_batch=16, doc_batch=4096)
    torch.testing.assert_close(scores, brute_force(q, d, 50).values)
    torch.testing.assert_close(torch.gather(q @ d.T, 1, index), scores)
    assert len(set(index[0].tolist())) == 50


def test_exact_topk_reads_numpy_memmaps(tmp_path):
    q, d = unit_rows(20, 8, 2), unit_rows(500, 8, 3)
    path = tmp_path / "docs.npy"
    np.save(path, d.numpy())
    scores, index = exact_topk(q.numpy(), np.load(path, mmap_mode="r"), 10, doc_batch=64)
    torch.testing.assert_close(index, brute_force(q, d, 10).indices)


def test_k_is_capped_by_the_corpus_size():
    scores, index = exact_topk(unit_rows(3, 4, 0), unit_rows(5, 4, 1), 1000)
    assert index.shape == (3, 5)
    assert sorted(index[0].tolist()) == [0, 1, 2, 3, 4]


def test_bad_embeddings_are_rejected():
    q, d = unit_rows(3, 4, 0), unit_rows(5, 4, 1)
    with pytest.raises(ValueError, match="documents row 2 has L2 norm 2"):
        exact_topk(q, torch.cat([d[:2], 2 * d[2:3], d[3:]]), 2)
    d_nan = d.clone()
    d_nan[4, 0] = float("nan")
    with pytest.raises(ValueError, match="documents row 4 has L2 norm nan"):
        exact_topk(q, d_nan, 2, doc_batch=2)
    with pytest.raises(ValueError, match="dimension 4 but documents 3"):
        exact_topk(q, d[:, :3], 2)
    with pytest.raises(ValueError, match="float32"):
        exact_topk(q.double(), d, 2)


def test_faiss_flat_is_exact_and_approximate_indexes_find_most_neighbours():
    q, d = unit_rows(40, 32, 4), unit_rows(2000, 32, 5)
    want_s, want_i = brute_force(q, d, 10)
    scores, index = faiss_topk(build_faiss_index(d, "flat"), q, 10)
    torch.testing.assert_close(scores, want_s)
    for kind in ("hnsw", "ivf"):
        scores, index = faiss_topk(build_faiss_index(d.numpy(), kind), q, 10, nprobe=32)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(index.tolist(), want_i.tolist())])
        assert recall > 0.8, kind
    with pytest.raises(ValueError, match="choose one of flat, hnsw, ivf"):
        build_faiss_index(d, "lsh")
