"""Torch datasets: pair items and masks, collate, cache, pair lookup, unique-query batches, corpus items."""

from __future__ import annotations

import json
import shutil
import warnings
from functools import partial

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from gcl_nb.data import DataError, load_gs
from gcl_nb.data.batch_sampler import UniqueQueryBatchSampler
from gcl_nb.data.datasets import CorpusDataset, PairDataset, collate_pairs
from gcl_nb.data.image_cache import ImageCache
from gcl_nb.data.pair_lookup import PairLookup

FIELDS = [("image", "image"), ("title", "text")]


def preprocess(img):
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)


def tokenize(texts):
    return torch.tensor([[len(t), sum(map(ord, t)) % 97] for t in texts], dtype=torch.long)


@pytest.fixture(scope="module")
def data(synthshop_smoke):
    return load_gs(synthshop_smoke)


def test_pair_items(data):
    pairs, corpus = data.split("in_domain"), data.corpus_for("in_domain")
    ds = PairDataset(pairs, corpus, FIELDS, preprocess, score_column="score_reciprocal")
    item = ds[5]
    row = pairs.iloc[5]
    assert item["query"] == row["query"] and item["fields"]["title"] == row["title"] and item["row"] == 5
    assert item["score"] == pytest.approx(1 / row["position"])
    assert torch.equal(item["fields"]["image"], preprocess(corpus.load_image(row["product_id"])))
    assert item["field_mask"].tolist() == [True, True]
    assert ds.queries[item["query_code"]] == row["query"] and ds.product_ids[item["doc_code"]] == row["product_id"]


def test_missing_fields_are_masked(synthshop_smoke, tmp_path, data):
    shop = shutil.copytree(synthshop_smoke, tmp_path / "shop")
    pairs = data.split("in_domain").copy()
    pid = pairs["product_id"].iat[0]
    (shop / "images" / f"{pid}.jpg").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        corpus = load_gs(shop, on_bad_image="skip").corpus_for("in_domain")
    pairs.loc[1, "title"] = np.nan
    ds = PairDataset(pairs, corpus, FIELDS, preprocess)
    assert ds[0]["field_mask"].tolist() == [False, True] and not ds[0]["fields"]["image"].any()
    assert ds[1]["field_mask"].tolist() == [True, False] and ds[1]["fields"]["title"] == ""
    batch = collate_pairs([ds[0], ds[1]], tokenize)
    assert batch["fields"]["image"].shape == (2, 3, 32, 32)
    assert batch["field_mask"].tolist() == [[False, True], [True, False]]


def test_collate_through_dataloader(data):
    ds = PairDataset(data.split("novel_query"), data.corpus_for("novel_query"), FIELDS, preprocess)
    loader = DataLoader(ds, batch_size=8, collate_fn=partial(collate_pairs, tokenize=tokenize))
    batch = next(iter(loader))
    assert batch["query"].shape == (8, 2) and batch["fields"]["title"].shape == (8, 2)
    assert batch["fields"]["image"].shape == (8, 3, 32, 32) and batch["score"].dtype == torch.float32
    assert batch["row"].tolist() == list(range(8))


@pytest.mark.parametrize("mode", ["tensor", "uint8"])
def test_image_cache_decodes_once(data, mode):
    pairs, corpus = data.split("in_domain"), data.corpus_for("in_domain")
    cache = ImageCache(mode)
    ds = PairDataset(pairs, corpus, [("image", "image")], preprocess, image_cache=cache)
    first = [ds[i]["fields"]["image"] for i in range(len(ds))]
    n_products = pairs["product_id"].nunique()
    assert len(cache) == cache.misses == n_products
    second = [ds[i]["fields"]["image"] for i in range(len(ds))]
    assert cache.misses == n_products and cache.hits == 2 * len(ds) - n_products
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    with pytest.raises(ValueError, match="ImageCache mode"):
        ImageCache("png")


def test_pair_lookup_matrix(data):
    pairs = data.split("in_domain")
    ds = PairDataset(pairs, data.corpus_for("in_domain"), FIELDS, preprocess)
    lookup = PairLookup(pairs)
    rows = np.arange(0, 40, 3)
    q, d = ds.query_codes[rows], ds.doc_codes[rows]
    matrix = lookup.matrix(q, d)
    table = {(a, b): s for a, b, s in zip(pairs["query"], pairs["product_id"], pairs["score_linear"])}
    expected = [[table.get((ds.queries[i], ds.product_ids[j]), 0.0) for j in d] for i in q]
    assert matrix.shape == (len(rows), len(rows)) and torch.equal(matrix, torch.tensor(expected, dtype=torch.float32))
    assert (matrix.diag() > 0).all() and (matrix == 0).any()


def test_unique_query_batches(data):
    codes = PairDataset(data.split("in_domain"), data.corpus_for("in_domain"), FIELDS, preprocess).query_codes
    sampler = UniqueQueryBatchSampler(codes, batch_size=16, seed=0)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(codes)))  # every row once
    assert all(len(set(codes[b])) == len(b) for b in batches)
    assert np.mean([len(b) == 16 for b in batches]) > 0.8 and len(sampler) == len(batches)
    assert list(sampler) == batches
    sampler.set_epoch(1)
    assert list(sampler) != batches
    assert all(len(b) == 16 for b in UniqueQueryBatchSampler(codes, 16, seed=0, drop_last=True))


def test_corpus_dataset(data):
    corpus = data.corpora[2]
    ids = list(corpus.products.index[:6])
    ds = CorpusDataset(corpus, ids, FIELDS, preprocess)
    item = ds[3]
    assert item["product_id"] == ids[3] and item["fields"]["title"] == corpus.products.loc[ids[3], "title"]
    batch = collate_pairs([ds[i] for i in range(len(ds))], tokenize)
    assert batch["fields"]["image"].shape == (6, 3, 32, 32) and batch["index"].tolist() == list(range(6))
    assert batch["product_id"] == ids and "query" not in batch
    with pytest.raises(ValueError, match="rhs_fields"):
        CorpusDataset(corpus, ids, [("image", "video")], preprocess)


def test_missing_title_is_masked_and_a_product_without_any_field_is_an_error(synthshop_smoke, tmp_path):
    shop = shutil.copytree(synthshop_smoke, tmp_path / "shop")
    table = pd.read_csv(shop / "query_0_product_id_0.csv", dtype=str, keep_default_na=False)
    pid = table["product_id"].iat[0]
    table.loc[table["product_id"] == pid, "title"] = ""
    table.to_csv(shop / "query_0_product_id_0.csv", index=False)
    corpus_json = json.loads((shop / "corpus_1.json").read_text())
    corpus_json[pid]["title"] = ""
    (shop / "corpus_1.json").write_text(json.dumps(corpus_json))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_gs(shop, splits=["in_domain"])
    rows = np.flatnonzero(data.split("in_domain")["product_id"] == pid)
    pairs = PairDataset(data.split("in_domain"), data.corpus_for("in_domain"), FIELDS, preprocess)
    assert all(pairs[int(i)]["field_mask"].tolist() == [True, False] for i in rows)  # title weight 0
    docs = CorpusDataset(data.corpus_for("in_domain"), [pid], FIELDS, preprocess)
    assert docs[0]["field_mask"].tolist() == [True, False]
    (shop / "images" / f"{pid}.jpg").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_gs(shop, splits=["in_domain"], on_bad_image="skip")
    assert data.missing.loc["in_domain", "no_field"] == len(rows)
    for make in (
        lambda: PairDataset(data.split("in_domain"), data.corpus_for("in_domain"), FIELDS, preprocess),
        lambda: CorpusDataset(data.corpus_for("in_domain"), [pid], FIELDS, preprocess),
    ):
        with pytest.raises(DataError, match=rf"product '{pid}' .*has none of the fields \['image', 'title'\]"):
            make()


def test_augmentation_is_drawn_per_sample_from_seed_step_and_row(data):
    """Indexed by (step, row), a row's random augmentation depends on (seed, step, row) only: not on the global
    RNG, the loader's workers or which process reads it; the global RNG is left as it was."""

    def jitter(img):
        return preprocess(img) + torch.rand(1)

    pairs, corpus = data.split("in_domain"), data.corpus_for("in_domain")
    ds = PairDataset(pairs, corpus, FIELDS, jitter, augment_seed=7)
    torch.manual_seed(0)
    first = ds[(3, 5)]["fields"]["image"]
    state = torch.get_rng_state()
    torch.manual_seed(1)
    assert torch.equal(ds[(3, 5)]["fields"]["image"], first)
    assert not torch.equal(ds[(4, 5)]["fields"]["image"], first)  # another step, another draw
    assert not torch.equal(PairDataset(pairs, corpus, FIELDS, jitter, augment_seed=8)[(3, 5)]["fields"]["image"], first)
    torch.manual_seed(0)
    ds[(3, 5)]
    assert torch.equal(torch.get_rng_state(), state)
    keys = [[(0, 1), (0, 2)], [(1, 3), (1, 4)], [(2, 1), (2, 5)]]
    collate = partial(collate_pairs, tokenize=tokenize)
    by_workers = [
        [b["fields"]["image"] for b in DataLoader(ds, batch_sampler=keys, collate_fn=collate, num_workers=workers)]
        for workers in (0, 2)
    ]
    assert all(torch.equal(a, b) for a, b in zip(*by_workers))
