"""SynthShop generator: layout, determinism, split semantics, graded rankings."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from gcl_nb.data import SPLIT_CORPUS, SPLIT_FILE_STEMS, SPLITS, load_gs, make_synthshop
from gcl_nb.data.gs.release_writer import SPLIT_CSV_COLUMNS
from gcl_nb.data.schema import QUERY_KEY_SUFFIX, DataError
from gcl_nb.data.synthshop import MATCH_LEVELS, generate_tables, ranking_stats
from gcl_nb.data.synthshop.catalog import CATEGORIES, COLOURS, PATTERNS
from gcl_nb.data.synthshop.engine import Engine
from gcl_nb.data.synthshop.presets import preset_params
from gcl_nb.workbench.cli import main as cli_main


def _digest(root) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_layout_and_columns(synthshop_smoke):
    root = synthshop_smoke
    for stem in SPLIT_FILE_STEMS.values():
        for suffix in (".csv", "_gt_dev.json", "_gt_test.json", "_queries.json"):
            assert (root / f"{stem}{suffix}").is_file()
        header = pd.read_csv(root / f"{stem}.csv", nrows=0).columns
        assert tuple(header) == SPLIT_CSV_COLUMNS
    for name in ("corpus_1.json", "corpus_2.json", "synthshop_products.csv", "synthshop_queries.csv", "synthshop.json"):
        assert (root / name).is_file()
    corpus = json.loads((root / "corpus_1.json").read_text())
    pid, entry = next(iter(corpus.items()))
    assert entry["image_local"] == f"/input/images/{pid}.jpg" and entry["title"]
    assert (root / "images" / f"{pid}.jpg").is_file()
    assert len(pid) == 20 and int(pid) > np.iinfo(np.int64).max  # ids that only survive as strings
    meta = json.loads((root / "synthshop.json").read_text())
    assert meta["preset"] == "smoke" and meta["seed"] == 0 and meta["parameters"]["image_size"] == 32


def test_gt_and_queries_files_match_split(synthshop_smoke):
    stem = SPLIT_FILE_STEMS["in_domain"]
    table = pd.read_csv(synthshop_smoke / f"{stem}.csv", dtype=str)
    dev = json.loads((synthshop_smoke / f"{stem}_gt_dev.json").read_text())
    test = json.loads((synthshop_smoke / f"{stem}_gt_test.json").read_text())
    queries = json.loads((synthshop_smoke / f"{stem}_queries.json").read_text())
    keys = {q + QUERY_KEY_SUFFIX for q in queries}  # keyed as the official files: query text + "_{!@#~}_"
    assert set(dev) | set(test) == keys == {q + QUERY_KEY_SUFFIX for q in table["query"]} and not set(dev) & set(test)
    q = queries[0]
    rows = table[table["query"] == q]
    assert set(({**dev, **test})[q + QUERY_KEY_SUFFIX]) == set(rows["product_id"])
    scores = table["score_linear"].astype(float)
    best = rows.loc[rows["score_linear"].astype(float).idxmax(), "product_id"]
    expected = int(
        (scores[rows["score_linear"].astype(float).idxmax()] - scores.min()) / (scores.max() - scores.min()) * 99 + 1
    )
    assert ({**dev, **test})[q + QUERY_KEY_SUFFIX][best] == expected


def test_same_seed_same_bytes_other_seed_differs(synthshop_smoke, tmp_path):
    again = make_synthshop(tmp_path / "again", preset="smoke", seed=0)
    assert _digest(again) == _digest(synthshop_smoke)
    other = make_synthshop(tmp_path / "other", preset="smoke", seed=1)
    assert _digest(other)["query_0_product_id_0.csv"] != _digest(synthshop_smoke)["query_0_product_id_0.csv"]


def test_split_semantics(synthshop_smoke):
    data = load_gs(synthshop_smoke)
    assert data.splits == SPLITS
    queries = {s: set(data.split(s)["query_id"]) for s in SPLITS}
    side0 = queries["in_domain"] | queries["novel_document"]
    side1 = queries["novel_query"] | queries["zero_shot"]
    assert side0 and side1 and not side0 & side1
    halves = {h: set(c.products.index) for h, c in data.corpora.items()}
    assert not halves[1] & halves[2]
    for s in SPLITS:
        assert set(data.split(s)["product_id"]) <= halves[SPLIT_CORPUS[s]]
    queries_csv = pd.read_csv(synthshop_smoke / "synthshop_queries.csv", dtype={"query_id": str})
    assert abs((queries_csv["side"] == 0).mean() - 0.8) < 0.02
    products_csv = pd.read_csv(synthshop_smoke / "synthshop_products.csv", dtype={"product_id": str})
    assert products_csv["half"].value_counts().max() - products_csv["half"].value_counts().min() <= 0.1 * len(
        products_csv
    )


def test_scores_strictly_decrease_with_position(synthshop_smoke):
    data = load_gs(synthshop_smoke)
    for s in SPLITS:
        t = data.split(s).sort_values(["query_id", "position"])
        assert (t["score_linear"] == 101 - t["position"]).all()
        assert np.allclose(t["score_reciprocal"], 1 / t["position"]) and (t["no_score"] == 1).all()
        steps = t.groupby("query_id")["score_linear"].diff().dropna()
        assert (steps < 0).all()
    full = pd.concat([data.split(s) for s in SPLITS])
    per_query = full.groupby("query_id")["position"].agg(["min", "max", "count", "nunique"])
    # positions come from the full ranking: each query's rows over all splits are exactly 1..N
    assert (per_query["min"] == 1).all() and (per_query["count"] == per_query["nunique"]).all()
    assert (per_query["max"] == per_query["count"]).all()


def test_rankings_span_several_match_levels():
    params = preset_params("smoke")
    products, queries, ranked = generate_tables(params, seed=0)
    stats = ranking_stats(ranked)
    assert stats["median_match_levels_in_top_n"] >= 3
    assert stats["median_relevance_levels_in_top_n"] >= 3
    assert stats["max_exact_in_top_n"] <= params.exact_fraction * params.top_n < params.top_n
    # within a query, relevance never increases down the list (popularity/noise only break ties)
    assert (ranked.groupby("query_index")["relevance"].diff().dropna() <= 1e-9).all()


def test_engine_grades_attributes():
    products = pd.DataFrame(
        {
            "category": ["shirt", "shirt", "shirt", "sweater", "mug"],
            "colour": ["red", "red", "blue", "red", "red"],
            "pattern": ["striped", "solid", "striped", "striped", "striped"],
            "brand": ["acme"] * 5,
            "material": ["cotton"] * 5,
            "style": ["casual"] * 5,
            "popularity": [1.0] * 5,
        }
    )
    engine = Engine(products, top_n=5, popularity_strength=0.0, noise_strength=0.0, seed=0)
    query = {"category": "shirt", "colour": "red", "pattern": "striped"}
    top, rel = engine.rank(query, 0)
    assert list(top) == [0, 1, 2, 3, 4]  # exact, partial (colour), partial (pattern), related category, other
    assert [MATCH_LEVELS[i] for i in engine.match_levels(query)[top]] == [
        "exact",
        "partial",
        "partial",
        "related",
        "other",
    ]
    strong = Engine(
        products.assign(popularity=[1, 1, 1, 1e6, 1]), 5, popularity_strength=5.0, noise_strength=5.0, seed=0
    )
    assert list(strong.rank(query, 0)[0][:3]) == [0, 1, 2]  # popularity cannot cross a relevance level


def test_vocabulary_is_visible_somewhere():
    # pattern only in images, brand/material only in titles, colour in both (omitted in some titles)
    products, _, _ = generate_tables(preset_params("smoke"), seed=0)
    titles = products["title"].str.lower()
    assert not any(titles.str.contains(w, regex=False).any() for w in ("striped", "dotted", "zigzag"))
    assert (products["brand"].to_numpy()[:50] == [t.split()[0] for t in titles[:50]]).mean() > 0.3
    colour_words = products["colour"].map(lambda c: COLOURS[c][2])
    has_colour = [any(w in t for w in ws) for t, ws in zip(titles, colour_words)]
    assert 0.5 < np.mean(has_colour) < 0.9
    assert set(products["category"]) <= set(CATEGORIES) and set(products["pattern"]) <= set(PATTERNS)


def test_overrides_and_bad_parameters(tmp_path):
    with pytest.raises(ValueError, match="unknown SynthShop parameter"):
        make_synthshop(tmp_path / "x", preset="smoke", colour_count=3)
    with pytest.raises(ValueError, match="unknown SynthShop preset"):
        make_synthshop(tmp_path / "x", preset="huge")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        make_synthshop(tmp_path / "busy")


def test_an_interrupted_generation_leaves_no_folder_that_looks_finished(tmp_path, monkeypatch):
    from gcl_nb.data.synthshop import generator

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(generator, "_write_images", interrupted)
    with pytest.raises(KeyboardInterrupt):
        make_synthshop(tmp_path / "shop", preset="smoke")
    assert not (tmp_path / "shop").exists()  # half-written files stay in .shop.partial
    with pytest.raises(DataError, match="shop: incomplete: gcl-nb make-data was interrupted .* run gcl-nb make-data"):
        load_gs(tmp_path / "shop")
    monkeypatch.undo()
    root = make_synthshop(tmp_path / "shop", preset="smoke")
    assert (root / "synthshop.json").is_file() and any((root / "images").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop"]  # the partial folder became the data set


def test_cli_make_data(tmp_path, capsys):
    out = tmp_path / "cli"
    assert (
        cli_main(
            [
                "make-data",
                "--preset",
                "smoke",
                "--seed",
                "3",
                "--out",
                str(out),
                "--set",
                "n_queries=20",
                "--set",
                "noise_strength=0.5",
            ]
        )
        == 0
    )
    meta = json.loads((out / "synthshop.json").read_text())
    assert meta["seed"] == 3 and meta["parameters"]["n_queries"] == 20
    assert meta["parameters"]["noise_strength"] == 0.5
    assert "SynthShop smoke" in capsys.readouterr().out
