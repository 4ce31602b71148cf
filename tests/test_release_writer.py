"""The tarball writer's ground truth (one global sort) against the straightforward per-query implementation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gcl_nb.data.grades import grade_scores
from gcl_nb.data.gs import release_writer
from gcl_nb.data.schema import QUERY_KEY_SUFFIX


def _per_query_ground_truth(table: pd.DataFrame, dev_queries: set[str], top_k: int) -> dict[str, dict]:
    """Each query's rows sorted on their own, best grade first, ties in row order, the first top_k kept."""
    graded = table.assign(grade=grade_scores(table["score_linear"]))
    gt = {"dev": {}, "test": {}}
    for query, rows in graded.groupby("query", sort=False):
        rows = rows.sort_values("grade", ascending=False, kind="stable").head(top_k)
        gt["dev" if query in dev_queries else "test"][query + QUERY_KEY_SUFFIX] = dict(
            zip(rows["product_id"], rows["grade"].tolist())
        )
    return gt


def _split_table(rng: np.random.Generator) -> pd.DataFrame:
    """A split's rows: queries interleaved (not contiguous), few distinct scores (many ties), one query with a
    single row, one pair per (query, product)."""
    n = 400
    queries = np.array([f"query {i % 37}" for i in range(n)], dtype=object)
    queries[-1] = "a query of its own"
    order = rng.permutation(n)
    return pd.DataFrame(
        {
            "query": queries[order],
            "product_id": [f"p{i:04d}" for i in order],
            "score_linear": rng.choice([1.0, 2.0, 2.5, 7.0], size=n),
        }
    )


@pytest.mark.parametrize("top_k", [1000, 4])
def test_ground_truth_files_equal_the_per_query_implementation(tmp_path, monkeypatch, top_k):
    monkeypatch.setattr(release_writer, "GT_TOP_K", top_k)
    rng = np.random.default_rng(0)
    table = _split_table(rng)
    dev = {f"query {i}" for i in range(0, 37, 3)}
    table = table.assign(
        title="", image_local="", position=1, score_reciprocal=1.0, no_score=1, pair_id="0", query_id="q"
    )
    release_writer.write_split(tmp_path, "in_domain", table, dev)
    expected = _per_query_ground_truth(table, dev, top_k)
    for part in ("dev", "test"):
        written = (tmp_path / f"query_0_product_id_0_gt_{part}.json").read_text(encoding="utf-8")
        assert written == json.dumps(expected[part], ensure_ascii=False)
    queries = json.loads((tmp_path / "query_0_product_id_0_queries.json").read_text())
    assert queries == list(dict.fromkeys(table["query"]))


def test_an_empty_split_has_empty_ground_truth():
    table = pd.DataFrame({"query": [], "product_id": [], "score_linear": []})
    codes, queries = pd.factorize(table["query"])
    assert release_writer.ground_truth(table, codes, queries, set()) == {"dev": {}, "test": {}}
