"""Where does a method's NDCG gain come from? Analyses of SynthShop results against its ground truth.

SynthShop ranks products by level(q, p) + u with level = round(LEVEL_SCALE * attribute-match relevance)
(learnable from the product's fields) and u in (0, 1) ordering products *within* a level by a latent popularity
plus noise (gcl_nb.data.synthshop.engine). The functions here split a ranking's NDCG@k into

- a *level part*: the expected NDCG@k of the same ranking when every product is swapped for a random product
  of the same level from the corpus (what the model's choice of levels alone earns), and
- a *within-level part*: the rest (which products of a level it picked, i.e. popularity plus luck),

give the NDCG@k of oracles that know only the levels, and relate per-query deltas between two methods to
query properties (for training-seed variation, see gcl_nb.evaluation.significance.compare_runs).

Conventions: *levels* is a DataFrame (index query_id, columns product_id of one corpus half) of integer
levels; *qrels* {query_id: {product_id: grade}} as built by gcl_nb.evaluation.protocol; grades are linear gains, NDCG
discounts 1 / log2(rank + 1) (gcl_nb.metrics.dcg) and its ideal comes from the judged grades, as in gcl_nb.metrics.ndcg.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from gcl_nb.data.synthshop.catalog import QUERY_ATTRIBUTES
from gcl_nb.data.synthshop.engine import LEVEL_SCALE, Engine
from gcl_nb.evaluation.protocol import build_qrels, grade_scores, sample_eval_queries
from gcl_nb.evaluation.split_evaluation import SplitResult
from gcl_nb.metrics import dcg, ndcg


# ------------------------------------------------------------------------------------ ground truth
def official_qrels(split_table: pd.DataFrame, top_k: int = 1000) -> dict[str, dict[str, int]]:
    """Qrels of every query of a split table (GSData.split), graded as the official evaluation does."""
    grades = grade_scores(split_table["score_linear"])
    return build_qrels(split_table, grades, sample_eval_queries(split_table["query"], grades, None), top_k)


def query_dict(row: Mapping) -> dict[str, str]:
    """{attribute: value} of one synthshop_queries.csv row (empty or missing attributes dropped)."""
    return {a: row[a] for a in QUERY_ATTRIBUTES if isinstance(row.get(a), str) and row[a]}


def corpus_levels(products: pd.DataFrame, queries: pd.DataFrame, product_ids: Sequence[str]) -> pd.DataFrame:
    """Relevance level of every (query, product): index query_id, columns `product_ids`.

    products: synthshop_products.csv (product_id, attributes, popularity); queries: synthshop_queries.csv.
    """
    engine = Engine(products, top_n=1, popularity_strength=0.0, noise_strength=0.0, seed=0)
    cols = pd.Index(products["product_id"].astype(str)).get_indexer(pd.Index(product_ids, dtype=str))
    if (cols < 0).any():
        raise ValueError(f"product {product_ids[int(np.flatnonzero(cols < 0)[0])]!r} is not in `products`")
    rows = [np.rint(LEVEL_SCALE * engine.relevance(query_dict(q)))[cols] for q in queries.to_dict("records")]
    return pd.DataFrame(
        np.array(rows, dtype=np.int64),
        index=queries["query_id"].astype(str).to_numpy(),
        columns=pd.Index(product_ids, dtype=str),
    )


# ------------------------------------------------------------------------------------ level part of NDCG
def expected_level_ndcg(ranked_levels: Sequence[int], levels: np.ndarray, grades: np.ndarray, k: int = 10) -> float:
    """Expected NDCG@k of a ranking whose rank r holds a product of level ranked_levels[r], each product drawn
    at random (without replacement) from the corpus products of that level.

    levels / grades: every corpus product's level and grade (0 = unjudged). The ideal DCG uses the judged
    grades. Each rank's expected gain is its level's mean grade (a draw without replacement is marginally
    uniform over the level), so no sampling is needed.
    """
    levels, grades = np.asarray(levels), np.asarray(grades, dtype=float)
    ranked = np.asarray(ranked_levels)[:k]
    pool = pd.Series(grades).groupby(levels).mean()
    missing = set(ranked.tolist()) - set(pool.index)
    if missing:
        raise ValueError(f"ranked levels {sorted(missing)} are not levels of any corpus product")
    idcg = dcg(np.sort(grades[grades > 0])[::-1][:k])
    expected = dcg(pool.loc[ranked].to_numpy())
    return float(expected / idcg) if idcg > 0 else 0.0


def _grades(qrels: Mapping[str, float], product_ids: pd.Index) -> np.ndarray:
    return np.array([qrels.get(p, 0) for p in product_ids], dtype=float)


def level_oracle_ndcg(
    qrels: Mapping[str, Mapping[str, float]], levels: pd.DataFrame, k: int = 10, within: pd.Series | None = None
) -> pd.Series:
    """Per-query NDCG@k (index query_id) of an oracle ranking the corpus by level, best first.

    within None: products of one level in random order (the exact expectation over orders, via
    `expected_level_ndcg`); else a Series (index product_id, e.g. popularity) ordering each level, highest first
    (NDCG by gcl_nb.metrics.ndcg).
    """
    products = pd.Index(levels.columns, dtype=str)
    out = {}
    if within is None:
        for qid, judged in qrels.items():
            lv = levels.loc[qid].to_numpy()
            out[qid] = expected_level_ndcg(np.sort(lv)[::-1][:k], lv, _grades(judged, products), k)
        return pd.Series(out, name="ndcg", dtype=float)
    key = within.reindex(products)
    if key.isna().any():
        raise ValueError(f"`within` lacks product {key.index[key.isna()][0]!r}")
    tiebreak = (key.rank(method="first").to_numpy() - 0.5) / len(key)  # in (0, 1): never crosses a level
    run = {}
    for qid in qrels:
        score = levels.loc[qid].to_numpy() + tiebreak
        top = np.argsort(-score, kind="stable")[: max(k, 100)]
        run[qid] = dict(zip(products[top], score[top].tolist()))
    return pd.Series(ndcg(qrels, run, k, per_query=True), name="ndcg", dtype=float)


def level_decomposition(result: SplitResult, levels: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """Per query of an evaluated split: ndcg (NDCG@k of the run), level_part (`expected_level_ndcg` of the
    levels the run put at ranks 1..k) and within_part = ndcg - level_part.

    result: gcl_nb.evaluation.split_evaluation.evaluate_split's output; levels: `corpus_levels` over the split's
    corpus half.
    """
    cols = pd.Index(levels.columns, dtype=str).get_indexer(result.doc_ids)
    if (cols < 0).any():
        raise ValueError(f"document {result.doc_ids[int(np.flatnonzero(cols < 0)[0])]!r} has no level")
    products = result.doc_ids
    metric = f"ndcg@{k}"
    if metric in result.per_query.columns:
        run_ndcg = result.per_query.set_index("query_id")[metric]
    else:
        run_ndcg = pd.Series(ndcg(result.qrels, result.run(), k, per_query=True))
    rows = []
    for qid, index in zip(result.query_ids, result.doc_index):
        lv = levels.loc[qid].to_numpy()[cols]
        top = index[:k][index[:k] >= 0]
        part = expected_level_ndcg(lv[top], lv, _grades(result.qrels[qid], products), k)
        rows.append((result.split, qid, float(run_ndcg[qid]), part))
    out = pd.DataFrame(rows, columns=["split", "query_id", "ndcg", "level_part"])
    out["within_part"] = out["ndcg"] - out["level_part"]
    return out


# ------------------------------------------------------------------------------------ per-query deltas
def delta_power_summary(deltas: pd.DataFrame) -> pd.DataFrame:
    """Per split of a `gcl_nb.viz.ranking.per_query_deltas` table: n, mean, sem and sd of the delta, share of
    queries improved / hurt, and the smallest mean delta detectable with 80% power at alpha 0.05 (2.8 sem)."""
    g = deltas.groupby("split", sort=False)["delta"]
    out = pd.DataFrame(
        {
            "n": g.size(),
            "mean": g.mean(),
            "sem": g.sem(),
            "sd": g.std(),
            "improved": g.apply(lambda d: (d > 0).mean()),
            "hurt": g.apply(lambda d: (d < 0).mean()),
        }
    )
    out["mde80"] = 2.8 * out["sem"]
    return out


def deltas_by_query_property(
    deltas: pd.DataFrame, properties: pd.DataFrame, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Spearman correlation of the per-query delta with each query property, per split.

    properties: one row per query_id (or per split and query_id when it has a `split` column). Returns
    split, property, rho, p, n (queries with the property defined).
    """
    keys = ["split", "query_id"] if "split" in properties.columns else ["query_id"]
    merged = deltas.merge(properties, on=keys, how="left")
    columns = list(columns) if columns is not None else [c for c in properties.columns if c not in keys]
    rows = []
    for split, group in merged.groupby("split", sort=False):
        for col in columns:
            x = group[[col, "delta"]].dropna()
            rho, p = stats.spearmanr(x[col], x["delta"]) if len(x) > 2 and x[col].nunique() > 1 else (np.nan, np.nan)
            rows.append((split, col, float(rho), float(p), len(x)))
    return pd.DataFrame(rows, columns=["split", "property", "rho", "p", "n"])


def query_properties(queries: pd.DataFrame, train_side: int = 0) -> pd.DataFrame:
    """Per query_id: n_attributes, n_exact, and how many *training* queries (side == train_side, the query
    itself excluded) share its category, its category and colour, or all its attribute values but one."""
    train = queries[queries["side"] == train_side]
    rows = []
    for q in queries.to_dict("records"):
        own = query_dict(q)
        others = train[train["query_id"] != q["query_id"]]
        shared = sum((others[a] == v).to_numpy(int) for a, v in own.items())
        same_cat = others["category"] == own.get("category")
        rows.append(
            {
                "query_id": q["query_id"],
                "n_attributes": len(own),
                "n_exact": q.get("n_exact", np.nan),
                "train_same_category": int(same_cat.sum()) if "category" in own else np.nan,
                "train_same_category_colour": int((same_cat & (others["colour"] == own.get("colour"))).sum())
                if "category" in own and "colour" in own
                else np.nan,
                "train_all_but_one": int((shared >= len(own) - 1).sum()),
            }
        )
    return pd.DataFrame(rows)


def judged_properties(split_table: pd.DataFrame, levels: pd.DataFrame | None = None, k: int = 10) -> pd.DataFrame:
    """Per query of a split table: n_judged (its rows) and, with `levels`, top_share = share of its k
    best-positioned rows in its best judged level and n_levels = distinct judged levels."""
    rows = []
    for qid, g in split_table.sort_values("position", kind="stable").groupby("query_id", sort=False):
        row = {"query_id": qid, "n_judged": len(g)}
        if levels is not None:
            lv = levels.loc[qid, g["product_id"].astype(str)].to_numpy()
            row.update(top_share=float((lv[:k] == lv.max()).mean()), n_levels=len(set(lv.tolist())))
        rows.append(row)
    return pd.DataFrame(rows)
