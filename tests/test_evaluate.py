"""gcl_nb.evaluation: the official protocol, its run per split, the embedding cache, TREC files, and
`gcl-nb evaluate`."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import pytrec_eval
import torch

from gcl_nb.data.schema import PAIR_COLUMNS, QUERY_KEY_SUFFIX, SPLIT_CORPUS, SPLITS, DataError, SettingError
from gcl_nb.evaluation.config import EvalConfig
from gcl_nb.evaluation.embedding_cache import encode_corpus, model_fingerprint
from gcl_nb.evaluation.encoding import encode_products, encode_queries
from gcl_nb.evaluation.protocol import build_qrels, grade_scores, load_ground_truth, sample_eval_queries
from gcl_nb.evaluation.split_evaluation import (
    SUMMARY_COLUMNS,
    evaluate,
    per_query_table,
    run_protocol,
    summary_table,
)
from gcl_nb.evaluation.trec import read_qrels, read_run, write_qrels, write_run
from gcl_nb.metrics import METRIC_COLUMNS, metric_set
from gcl_nb.models import EncoderConfig, FieldSpec


class HashedBagOfWords(torch.nn.Module):
    """Fake encoder: each word a fixed random vector (seeded by its hash), a text the normalised sum.
    Its tokens are the texts themselves; queries are embedded from their text, products from their title."""

    dim = embed_dim = 32
    config = EncoderConfig(lhs=[FieldSpec("query")], rhs=[FieldSpec("title")])
    transform_eval = None

    def __init__(self, fingerprint="bow-32"):
        super().__init__()
        self.fingerprint = fingerprint
        self.products_encoded = 0

    def _embed(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in ["<bias>", *str(text).lower().split()]:
                seed = int(hashlib.md5(word.encode()).hexdigest()[:8], 16)
                out[i] += np.random.default_rng(seed).standard_normal(self.dim) * (0.3 if word == "<bias>" else 1)
        return torch.nn.functional.normalize(torch.from_numpy(out), dim=1)

    def tokenize(self, texts):
        return list(texts)

    def encode_fields(self, side, fields, mask=None):
        texts = fields["query" if side == "lhs" else "title"]
        if side == "rhs":
            self.products_encoded += len(texts)
        return self._embed(texts)


@dataclass
class FakeCorpus:
    half: int
    products: pd.DataFrame
    split: str | None = None  # a whole corpus half

    @property
    def name(self):
        return f"corpus half {self.half}"


@dataclass
class FakeData:
    """The GSData surface evaluate() uses: split(name), corpus_for(split), root."""

    tables: dict
    corpora: dict
    root: Path = Path("/nonexistent")
    splits: tuple = field(default=SPLITS)

    def split(self, name):
        if name not in self.tables:
            raise DataError(f"split {name!r} is not in {self.root}")
        return self.tables[name]

    def corpus_for(self, split):
        return self.corpora[SPLIT_CORPUS[split]]


WORDS = ["red", "blue", "green", "shoe", "shirt", "hat", "bag", "lamp", "wool", "silk", "cheap", "formal"]


def make_fake_data(seed=0, n_products=120, n_queries=25, per_query=12):
    """Four splits over two corpus halves; each query's rows are products sharing words with it."""
    rng = np.random.default_rng(seed)
    corpora, tables = {}, {}
    for half in (1, 2):
        ids = [f"p{half}-{i:04d}" for i in range(n_products)]
        titles = [" ".join(rng.choice(WORDS, 3, replace=False)) for _ in ids]
        corpora[half] = FakeCorpus(half, pd.DataFrame({"title": titles}, index=pd.Index(ids, name="product_id")))
    for s, split in enumerate(SPLITS):
        corpus = corpora[SPLIT_CORPUS[split]]
        rows = []
        for q in range(n_queries):
            text = " ".join(rng.choice(WORDS, 2, replace=False)) + f" q{s}{q}"
            overlap = corpus.products["title"].map(lambda t: len(set(t.split()) & set(text.split()))).to_numpy()
            order = np.lexsort((rng.random(len(overlap)), -overlap))[:per_query]
            for pos, i in enumerate(order, 1):
                rows.append(
                    {
                        "query": text,
                        "query_id": f"{split}-{q}",
                        "product_id": corpus.products.index[i],
                        "title": corpus.products["title"].iloc[i],
                        "position": pos,
                        "score_linear": float(per_query + 1 - pos),
                        "score_reciprocal": 1 / pos,
                        "no_score": 1.0,
                        "pair_id": f"{split}-{q}-{pos}",
                    }
                )
        tables[split] = pd.DataFrame(rows, columns=list(PAIR_COLUMNS))
    return FakeData(tables, corpora)


# ------------------------------------------------------------------------------------ protocol steps
def test_grades_are_min_max_scaled_and_truncated():
    assert grade_scores(pd.Series([0.0, 10.0])).tolist() == [1, 100]
    scores = pd.Series([3.0, 0.0, 1.0, 2.0, 2.5])
    expected = [int((s - 0.0) / 3.0 * 99 + 1) for s in scores]  # int() truncates: 2.5 -> 83.5 -> 83
    assert grade_scores(scores).tolist() == expected == [100, 1, 34, 67, 83]
    assert grade_scores(pd.Series([7.0, 7.0])).tolist() == [1, 1]
    with pytest.raises(DataError, match="row 1"):
        grade_scores(pd.Series([1.0, np.nan], name="score_linear"))


def test_query_sampling_reproduces_pandas_weighted_sample_with_random_state_1():
    rng = np.random.default_rng(4)
    texts = [f"query {i}" for i in range(40)] + ["abc", "abc d"]  # the suffix reorders these two
    queries = pd.Series(rng.choice(texts, 600))
    grades = rng.integers(1, 101, 600)
    sampled = sample_eval_queries(queries, grades, top_q=15)
    # the official lines (pandas accepts this sample: 15 * max weight share < 1)
    frame = pd.DataFrame({"query_id": queries + QUERY_KEY_SUFFIX, "score_linear": grades})
    sums = frame.groupby("query_id").sum()
    official = sums.sample(n=15, weights=sums["score_linear"], random_state=1, replace=False)
    official = official.sort_values(by="score_linear", ascending=False)
    assert official["score_linear"].is_unique  # so the order is fully determined
    assert sampled == [key[: -len(QUERY_KEY_SUFFIX)] for key in official.index]
    keys = sorted(set(queries + QUERY_KEY_SUFFIX))
    assert keys.index("abc d" + QUERY_KEY_SUFFIX) < keys.index("abc" + QUERY_KEY_SUFFIX)


def test_query_sampling_is_capped_and_works_where_pandas_3_refuses():
    queries = pd.Series(["a", "a", "b", "c"])
    grades = np.array([50, 50, 1, 1])  # "a" holds 98% of the weight
    assert sorted(sample_eval_queries(queries, grades, top_q=10**6)) == ["a", "b", "c"]
    assert sample_eval_queries(queries, grades, top_q=-1)[0] == "a"
    assert len(sample_eval_queries(queries, grades, top_q=2)) == 2


def test_qrels_keep_the_top_graded_rows_keyed_by_query_id():
    split = pd.DataFrame(
        {
            "query": ["a", "a", "a", "b", "b"],
            "query_id": ["1", "1", "1", "2", "2"],
            "product_id": ["x", "y", "z", "x", "w"],
        }
    )
    grades = np.array([5, 9, 5, 1, 3])
    qrels = build_qrels(split, grades, ["b", "a"], top_k=2)
    assert list(qrels) == ["2", "1"]
    assert qrels["1"] == {"y": 9, "x": 5}  # ties keep file order at the cut
    assert qrels["2"] == {"w": 3, "x": 1}


def test_ground_truth_keys_may_be_texts_official_keys_or_ids(tmp_path):
    split = make_fake_data().split("in_domain")
    q0, q1 = split["query"].iloc[0], split["query"].iloc[-1]
    id0, id1 = split["query_id"].iloc[0], split["query_id"].iloc[-1]
    path = tmp_path / "gt.json"
    path.write_text(json.dumps({q1 + QUERY_KEY_SUFFIX: {"p": 3}, q0: {"p": 1}, "x": {}}))
    with pytest.raises(DataError, match="query 'x' is not a query"):
        load_ground_truth(path, split)
    path.write_text(json.dumps({q1 + QUERY_KEY_SUFFIX: {"p": 3}, id0: {"p": 1}}))
    assert load_ground_truth(path, split) == {id1: {"p": 3}, id0: {"p": 1}}
    path.write_text("[1, 2]")
    with pytest.raises(DataError, match="must be a JSON object"):
        load_ground_truth(path, split)


# ------------------------------------------------------------------------------------ whole protocol
def brute_force_run(model, data, split, texts, qids, k):
    corpus = data.corpus_for(split)
    ids = list(corpus.products.index)
    sims = encode_queries(model, texts) @ encode_products(model, corpus, ids).T
    top = torch.topk(sims, min(k, len(ids)), dim=1)
    return {
        q: {ids[i]: float(s) for i, s in zip(idx.tolist(), sc.tolist())}
        for q, idx, sc in zip(qids, top.indices, top.values)
    }


def test_evaluate_matches_a_direct_computation_of_the_protocol():
    data, model = make_fake_data(), HashedBagOfWords()
    results = run_protocol(model, data, EvalConfig(top_q=10, top_k=50))
    summary, per_query = summary_table(results), per_query_table(results)
    pd.testing.assert_frame_equal(summary, evaluate(model, data, EvalConfig(top_q=10, top_k=50)))
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert summary["split"].tolist() == list(SPLITS)
    assert summary["n_queries"].tolist() == [10] * 4
    assert list(per_query.columns) == ["split", "query_id", "query", *METRIC_COLUMNS]
    for split in SPLITS:
        table = data.split(split)
        grades = grade_scores(table["score_linear"])
        texts = sample_eval_queries(table["query"], grades, 10)
        qrels = build_qrels(table, grades, texts, 50)
        run = brute_force_run(model, data, split, texts, list(qrels), 50)
        expected = metric_set(qrels, run)
        row = summary.set_index("split").loc[split]
        for name in METRIC_COLUMNS:
            assert row[name] == pytest.approx(expected[name], abs=1e-6), (split, name)
        ours = per_query[per_query["split"] == split]
        assert ours["query"].tolist() == texts
        trec = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
        assert ours["ndcg@10"].tolist() == pytest.approx([trec[q]["ndcg_cut_10"] for q in qrels], abs=1e-6)
    assert 0 < summary["ndcg@10"].min() and summary[list(METRIC_COLUMNS)].max().max() <= 1


def test_corpus_embeddings_are_encoded_once_per_half_and_cached(tmp_path):
    data, model = make_fake_data(), HashedBagOfWords()
    first = evaluate(model, data, EvalConfig(top_q=5, top_k=20, cache_dir=tmp_path))
    assert model.products_encoded == 240  # two halves of 120, each once for its two splits
    again = evaluate(model, data, EvalConfig(top_q=5, top_k=20, cache_dir=tmp_path))
    assert model.products_encoded == 240
    pd.testing.assert_frame_equal(first, again)
    other = HashedBagOfWords(fingerprint="other-weights")
    evaluate(other, data, EvalConfig(["zero_shot"], top_q=5, top_k=20, cache_dir=tmp_path))
    assert other.products_encoded == 120
    cached = encode_corpus(model, data.corpus_for("in_domain"), cache_dir=tmp_path)
    assert isinstance(cached, np.memmap) and cached.shape == (120, 32)


def test_a_module_without_fingerprint_is_hashed_by_its_weights(tmp_path):
    class Linear(HashedBagOfWords):
        def __init__(self):
            super().__init__(fingerprint=None)
            self.w = torch.nn.Parameter(torch.ones(2))

    a, b = Linear(), Linear()
    assert model_fingerprint(a) == model_fingerprint(b)
    with torch.no_grad():
        b.w[0] = 2
    assert model_fingerprint(a) != model_fingerprint(b)
    with pytest.raises(ValueError, match="cannot fingerprint"):
        model_fingerprint(object())


def test_bad_input_is_named():
    data, model = make_fake_data(), HashedBagOfWords()
    data.tables["zero_shot"] = data.tables["zero_shot"].iloc[:0]
    with pytest.raises(DataError, match="split 'zero_shot' has no rows"):
        evaluate(model, data, EvalConfig(["zero_shot"]))
    with pytest.raises(SettingError, match=r"splits=\['test'\]"):
        EvalConfig(["test"])
    with pytest.raises(DataError, match="no ground-truth file for split 'in_domain'"):
        evaluate(model, data, EvalConfig(["in_domain"], ground_truth="test"))
    with pytest.raises(SettingError, match="ground_truth='train'"):
        EvalConfig(["in_domain"], ground_truth="train")


class ListRetriever:
    """Retriever returning fixed, ragged results (to test the retrieve() path)."""

    def __init__(self, results):
        self.results = results

    def retrieve(self, queries, corpus, top_k):
        ids = [self.results.get(q, ([], []))[0] for q in queries]
        return ids, [self.results.get(q, ([], []))[1] for q in queries]


def test_retriever_results_may_be_ragged_and_must_name_corpus_products():
    data = make_fake_data()
    table = data.split("in_domain")
    texts = sample_eval_queries(table["query"], grade_scores(table["score_linear"]), 3)
    best = table[table["query"] == texts[0]].sort_values("position")["product_id"].tolist()
    retriever = ListRetriever({texts[0]: (best, list(range(len(best), 0, -1)))})
    result = run_protocol(retriever, data, EvalConfig(["in_domain"], top_q=3, top_k=100))[0]
    assert result.per_query["ndcg@10"].tolist() == [1.0, 0.0, 0.0]
    bad = ListRetriever({texts[0]: (["nope"], [1.0])})
    with pytest.raises(ValueError, match="product 'nope' .* not in corpus half 1"):
        run_protocol(bad, data, EvalConfig(["in_domain"], top_q=3))


def test_synthshop_tables_with_sampling_and_with_ground_truth_files(synthshop_smoke):
    from gcl_nb.data.gs import load_gs

    data, model = load_gs(synthshop_smoke), HashedBagOfWords()
    sampled = evaluate(model, data, EvalConfig(top_q=20, top_k=100))
    given = evaluate(model, data, EvalConfig(ground_truth="test", top_k=100))
    for table in (sampled, given):
        assert table["split"].tolist() == list(SPLITS)
        assert ((table[list(METRIC_COLUMNS)] >= 0) & (table[list(METRIC_COLUMNS)] <= 1)).all().all()
    assert (sampled["n_queries"] <= 20).all()
    gt = json.loads((synthshop_smoke / "query_0_product_id_0_gt_test.json").read_text())
    assert given["n_queries"].iloc[0] == len(gt)


# ------------------------------------------------------------------------------------ TREC files
def test_trec_files_round_trip_and_agree_with_pytrec_eval(tmp_path):
    qrels = {"q1": {"a": 3, "b": 1}, "q2": {"c": 2}}
    run = {"q1": {"a": 0.5, "b": 0.5, "x": 0.9}, "q2": {"c": 0.1, "y": 0.2}}
    write_run(tmp_path / "r.run", run, tag="t")
    write_qrels(tmp_path / "r.qrels", qrels)
    assert read_run(tmp_path / "r.run") == run
    assert read_qrels(tmp_path / "r.qrels") == qrels
    lines = (tmp_path / "r.run").read_text().splitlines()
    assert lines[:3] == ["q1 Q0 x 1 0.9 t", "q1 Q0 b 2 0.5 t", "q1 Q0 a 3 0.5 t"]
    trec = pytrec_eval.RelevanceEvaluator(read_qrels(tmp_path / "r.qrels"), {"ndcg_cut.10"})
    values = trec.evaluate(read_run(tmp_path / "r.run"))
    assert metric_set(qrels, run, per_query=True)["ndcg@10"].to_dict() == pytest.approx(
        {q: v["ndcg_cut_10"] for q, v in values.items()}
    )


def test_trec_bad_files_are_named(tmp_path):
    path = tmp_path / "bad.run"
    path.write_text("q Q0 a 1 0.5 t\nq Q0 a 2 0.4 t\n")
    with pytest.raises(DataError, match="line 2: document 'a' is listed twice for query 'q'"):
        read_run(path)
    path.write_text("q Q0 a 1 high t\n")
    with pytest.raises(DataError, match="line 1: 'high' is not a number"):
        read_run(path)
    path.write_text("q 0 a\n")
    with pytest.raises(DataError, match="expected 4 fields"):
        read_qrels(path)
    with pytest.raises(ValueError, match="whitespace"):
        write_run(tmp_path / "x.run", {"my query": {"a": 1.0}})


# ------------------------------------------------------------------------------------ CLI
def test_cli_evaluates_bm25_and_writes_tables_and_trec_files(synthshop_smoke, tmp_path, capsys):
    from gcl_nb.workbench.cli import main

    out = tmp_path / "bm25.csv"
    code = main(
        [
            "evaluate",
            "--bm25",
            "--data",
            str(synthshop_smoke),
            "--splits",
            "in_domain",
            "zero_shot",
            "--top-q",
            "10",
            "--top-k",
            "50",
            "--out",
            str(out),
            "--per-query",
            str(tmp_path / "pq.csv"),
            "--trec-dir",
            str(tmp_path / "trec"),
        ]
    )
    assert code == 0
    table = pd.read_csv(out)
    assert table.columns.tolist() == list(SUMMARY_COLUMNS)
    assert table["split"].tolist() == ["in_domain", "zero_shot"]
    assert "ndcg@10" in capsys.readouterr().out
    per_query = pd.read_csv(tmp_path / "pq.csv", dtype={"query_id": str})
    run, qrels = read_run(tmp_path / "trec" / "zero_shot.run"), read_qrels(tmp_path / "trec" / "zero_shot.qrels")
    zero_shot = per_query[per_query["split"] == "zero_shot"]
    assert (
        sorted(zero_shot["query_id"]) == sorted(qrels)
        and len(qrels) == table.set_index("split").at["zero_shot", "n_queries"]
    ), "every sampled query has its per-query row, once"
    ours = metric_set(qrels, run, per_query=True).loc[zero_shot["query_id"]]
    np.testing.assert_allclose(ours["ndcg@10"], zero_shot["ndcg@10"], atol=1e-9)


@pytest.mark.slow  # builds and runs a (tiny) open_clip encoder
def test_cli_evaluates_a_saved_encoder_and_reuses_its_cached_embeddings(synthshop_smoke, tmp_path, capsys):
    from gcl_nb.models import build_encoder, save_checkpoint
    from gcl_nb.workbench.cli import main

    save_checkpoint(build_encoder(EncoderConfig(arch="gcl-tiny")), tmp_path / "run")
    args = [
        "evaluate",
        "--model",
        str(tmp_path / "run"),
        "--data",
        str(synthshop_smoke),
        "--splits",
        "novel_query",
        "--top-q",
        "8",
        "--top-k",
        "40",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--out",
        str(tmp_path / "t.csv"),
    ]
    assert main(args) == 0
    [cache] = (tmp_path / "cache").glob("docs-half1-*.npy")
    written = cache.stat().st_mtime_ns
    first = pd.read_csv(tmp_path / "t.csv")
    assert main(args) == 0
    assert cache.stat().st_mtime_ns == written  # read back, not re-encoded
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "t.csv"), first)
    assert first["n_queries"].tolist() == [8]
    assert "novel_query" in capsys.readouterr().out


@pytest.mark.parametrize(
    "changes, named",
    [
        ({"top_k": 0}, "top_k=0"),
        ({"top_q": 2.5}, "top_q=2.5"),
        ({"batch_size": True}, "batch_size=True"),
        ({"splits": []}, "splits=[]"),
        ({"splits": ["in_domain", "in_domain"]}, "splits="),
    ],
)
def test_eval_config_names_a_bad_setting(changes, named):
    with pytest.raises(SettingError, match=re.escape(named)):
        EvalConfig(**changes)
    assert EvalConfig(top_q=None).top_q is None and EvalConfig(top_q=-1).top_q == -1
    assert EvalConfig(splits=["zero_shot"]).splits == ("zero_shot",)


def test_cli_refuses_a_bad_evaluation_setting_in_one_line_before_any_work(synthshop_smoke, tmp_path, capsys):
    from gcl_nb.workbench.cli import main

    out = tmp_path / "table.csv"
    for wrong, named in ((["--top-k", "0"], "top_k=0"), (["--device", "gpu0"], "--device='gpu0'")):
        assert main(["evaluate", "--bm25", "--data", str(synthshop_smoke), *wrong, "--out", str(out)]) == 2
        error = capsys.readouterr().err.strip()
        assert named in error and len(error.splitlines()) == 1 and not out.exists()


def test_encoding_and_search_run_in_full_float32_and_restore_the_setting():
    seen = []

    class Recorder(HashedBagOfWords):
        def encode_fields(self, side, fields, mask=None):
            seen.append((torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32))
            return super().encode_fields(side, fields, mask)

    saved = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    try:
        torch.set_float32_matmul_precision("high")  # what training sets on a GPU (TF32)
        torch.backends.cudnn.allow_tf32 = True
        encode_queries(Recorder(), ["red shirt", "blue mug"])
        assert seen == [("highest", False)]
        assert (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32) == ("high", True)
    finally:
        torch.set_float32_matmul_precision(saved[0])
        torch.backends.cudnn.allow_tf32 = saved[1]
