"""Marqo-GS files as users have them: the release's folder layout, partial columns, inconsistent ids, corpus
scope, physical line numbers, malformed shards, and how the command line reports a data error."""

from __future__ import annotations

import argparse
import json
import shutil
import warnings

import nbformat
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gcl_nb.data import DataError, SettingError, export_parquet, load_gs
from gcl_nb.data.schema import PAIR_COLUMNS, REQUIRED_COLUMNS, SPLIT_FILE_STEMS, SPLITS
from gcl_nb.evaluation.config import EvalConfig
from gcl_nb.evaluation.split_evaluation import evaluate
from gcl_nb.retrieval.bm25 import BM25Retriever
from gcl_nb.training import TrainConfig
from gcl_nb.workbench import notebooks
from gcl_nb.workbench.cli import main
from gcl_nb.workbench.commands import evaluate as evaluate_command
from gcl_nb.workbench.commands import experiment as experiment_command
from gcl_nb.workbench.commands import notebooks as notebooks_command
from gcl_nb.workbench.commands import train as train_command
from gcl_nb.workbench.commands.common import data_options

IN_DOMAIN = "query_0_product_id_0.csv"


def _quiet_load(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_gs(*args, **kwargs)


@pytest.fixture
def release(synthshop_smoke, tmp_path):
    """The official tarball layout: the subset folder, and the image archive unpacked BESIDE it."""
    root = tmp_path / "marqo-gs-dataset"
    subset = shutil.copytree(
        synthshop_smoke, root / "marqo_gs_wfash_1m", ignore=shutil.ignore_patterns("images", "synthshop*")
    )
    images = shutil.copytree(synthshop_smoke / "images", root / "images_wfash")
    return subset, images


@pytest.fixture(scope="module")
def parquet_shop(synthshop_smoke, tmp_path_factory):
    return export_parquet(synthshop_smoke, tmp_path_factory.mktemp("pq") / "shop", row_group_size=64)


def _shard(root, split):
    return root / "data" / f"{split}-00000-of-00001.parquet"


def _parquet_copy(parquet_shop, dst, splits=SPLITS):
    for split in splits:
        _shard(dst, split).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(_shard(parquet_shop, split), _shard(dst, split))
    return dst


def _bm25_table(data, splits=SPLITS):
    return evaluate(BM25Retriever(), data, EvalConfig(splits, top_q=20, top_k=50))


# ------------------------------------------------------------------------------------ end to end
@pytest.mark.slow  # trains a (tiny) model for two steps
def test_release_layout_end_to_end(release, tmp_path, capsys):
    subset, images = release
    entry = next(iter(json.loads((subset / "corpus_1.json").read_text()).values()))
    assert entry["image_local"].startswith("/input/images/")  # the authors' absolute paths, as released
    assert main(["evaluate", "--bm25", "--data", str(subset)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "missing image file" in err and "--image-root" in err
    out = tmp_path / "bm25.csv"
    source = ["--data", str(subset), "--image-root", str(images)]
    assert main(["evaluate", "--bm25", *source, "--top-q", "20", "--top-k", "50", "--out", str(out)]) == 0
    assert pd.read_csv(out)["corpus"].tolist() == ["half"] * 4
    run = tmp_path / "run"
    assert main(["train", *source, "--preset", "smoke", "--steps", "2", "--out", str(run), "--no-progress"]) == 0
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(run),
                *source,
                "--splits",
                "zero_shot",
                "--top-q",
                "8",
                "--top-k",
                "40",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert pd.read_csv(out)["n_queries"].tolist() == [8]


# ------------------------------------------------------------------------------------ one option set
DATA_FLAGS = {"--image-root", "--on-bad-image", "--check-images"}


@pytest.mark.parametrize(
    "module, evaluates",
    [(train_command, False), (evaluate_command, True), (experiment_command, True), (notebooks_command, True)],
)
def test_every_data_command_takes_the_data_options(module, evaluates):
    parser = argparse.ArgumentParser()
    module.add_cli(parser)
    flags = {opt for action in parser._actions for opt in action.option_strings}
    assert DATA_FLAGS <= flags and ("--corpus" in flags) == evaluates
    choices = {a.option_strings[0]: a.choices for a in parser._actions if a.option_strings}
    assert choices["--on-bad-image"] == ("error", "skip")
    assert choices["--check-images"] == ("none", "exists", "decode")


def test_every_notebook_declares_the_data_options():
    for name in notebooks.NOTEBOOKS:
        declared = notebooks.notebook_parameters(notebooks.find_notebook_dir() / name)
        assert {"data_path", "image_root", "on_bad_image", "check_images", "corpus"} <= declared, name


def test_train_config_carries_the_data_options(release):
    subset, images = release
    parser = argparse.ArgumentParser()
    train_command.add_cli(parser)
    args = parser.parse_args(["--data", str(subset), "--image-root", str(images), "--on-bad-image", "skip"])
    config = TrainConfig(data=str(subset), data_options=data_options(args))
    assert config.to_dict()["data_options"] == {
        "image_root": str(images),
        "on_bad_image": "skip",
        "check_images": "exists",
    }
    assert TrainConfig(data_options=config.to_dict()["data_options"]).data_options == config.data_options


# ------------------------------------------------------------------------------------ columns and ids
def test_only_the_required_columns_are_needed(synthshop_smoke, tmp_path):
    shop = shutil.copytree(synthshop_smoke, tmp_path / "shop")
    for stem in SPLIT_FILE_STEMS.values():
        table = pd.read_csv(shop / f"{stem}.csv", dtype=str, keep_default_na=False)
        table[list(REQUIRED_COLUMNS)].to_csv(shop / f"{stem}.csv", index=False)
    full, reduced = load_gs(synthshop_smoke), load_gs(shop)
    derived = tuple(c for c in PAIR_COLUMNS if c not in REQUIRED_COLUMNS)
    assert reduced.derived_columns == {s: derived for s in SPLITS} and full.derived_columns == {s: () for s in SPLITS}
    for split in SPLITS:
        a, b = full.split(split), reduced.split(split)
        kept = [c for c in PAIR_COLUMNS if c not in derived or c == "title"]  # the title comes from the corpus
        pd.testing.assert_frame_equal(a[kept], b[kept])
        rank = a.groupby("query")["position"].rank().astype("int64")  # derived: the rank within the split's rows
        assert b["position"].tolist() == rank.tolist() and np.allclose(b["score_reciprocal"], 1 / rank)
        assert (b.groupby("query")["query_id"].nunique() == 1).all()
        assert b["query_id"].nunique() == a["query_id"].nunique()
    same = reduced.split("in_domain").drop_duplicates("query").set_index("query")["query_id"]
    other = reduced.split("novel_document").drop_duplicates("query").set_index("query")["query_id"]
    assert same.loc[other.index].equals(other)  # derived ids agree across splits
    pd.testing.assert_frame_equal(_bm25_table(reduced), _bm25_table(full))


def test_parquet_with_only_required_columns_and_image(parquet_shop, tmp_path):
    root = _parquet_copy(parquet_shop, tmp_path / "pq")
    for split in SPLITS:
        table = pq.read_table(_shard(root, split))
        pq.write_table(table.select(["image", *REQUIRED_COLUMNS]), _shard(root, split), row_group_size=64)
    with pytest.warns(UserWarning, match="rows without a title"):
        data = load_gs(root)
    assert set(data.derived_columns["in_domain"]) == set(PAIR_COLUMNS) - set(REQUIRED_COLUMNS)
    assert (data.corpora[1].products["title"] == "").all() and data.corpora[1].has_image(
        data.split("in_domain")["product_id"].iat[0]
    )
    table = _bm25_table(data)  # no title has a word: BM25 retrieves nothing, and says so by its metrics
    assert table["n_queries"].gt(0).all() and (table["ndcg@10"] == 0).all()


def test_missing_required_column_lists_what_is_needed(synthshop_smoke, tmp_path):
    shop = shutil.copytree(synthshop_smoke, tmp_path / "shop")
    table = pd.read_csv(shop / IN_DOMAIN, dtype=str, keep_default_na=False)
    table.drop(columns=["product_id"]).to_csv(shop / IN_DOMAIN, index=False)
    with pytest.raises(
        DataError,
        match=r"missing column\(s\) \['product_id'\]; a split table needs "
        r"\['query', 'product_id', 'score_linear'\]",
    ):
        load_gs(shop)


@pytest.mark.parametrize("clash", ["one text, two ids", "one id, two texts"])
def test_inconsistent_query_id_warns_naming_both(synthshop_smoke, tmp_path, clash):
    shop = shutil.copytree(synthshop_smoke, tmp_path / "shop")
    table = pd.read_csv(shop / IN_DOMAIN, dtype=str, keep_default_na=False)
    first = table["query"].iat[0]
    row = int(np.flatnonzero(table["query"] != first)[0]) if clash == "one id, two texts" else 1
    before = table["query_id"].iat[row]
    if clash == "one id, two texts":  # every row of the second query takes the first query's id
        table.loc[table["query"] == table["query"].iat[row], "query_id"] = table["query_id"].iat[0]
    else:
        table.loc[row, "query_id"] = "999999"
    table.to_csv(shop / IN_DOMAIN, index=False)
    if clash == "one text, two ids":
        expected = rf"query {first!r} has query_id '{table['query_id'].iat[0]}' at line 2 and '999999' at line 3"
    else:
        expected = (
            rf"query_id '{table['query_id'].iat[0]}' names two queries: {first!r} at line 2 and "
            rf"{table['query'].iat[row]!r} at line {row + 2}"
        )
    with pytest.warns(UserWarning, match=expected + ".*derived from the text"):
        data = load_gs(shop, splits=["in_domain"])
    ids = data.split("in_domain").drop_duplicates("query")
    assert ids["query_id"].is_unique and before not in set(ids["query_id"])
    assert _bm25_table(data, ["in_domain"])["n_queries"].tolist() == [20]


# ------------------------------------------------------------------------------------ corpus scope
def test_corpus_half_needs_both_splits_of_the_half(parquet_shop, tmp_path):
    root = _parquet_copy(parquet_shop, tmp_path / "pq", splits=["novel_query", "zero_shot"])
    with pytest.raises(
        DataError,
        match=r"corpus half 1 is the products of novel_query \+ in_domain, but no "
        r"in_domain shard was found .*add the in_domain shard\(s\), or pass "
        r"corpus='split'",
    ):
        load_gs(root)
    data = load_gs(root, corpus="split")
    for split in ("novel_query", "zero_shot"):
        corpus = data.corpus_for(split)
        assert corpus.split == split and list(corpus.products.index) == list(pd.unique(data.split(split)["product_id"]))
    table = _bm25_table(data, ["novel_query", "zero_shot"])
    assert table["corpus"].tolist() == ["split", "split"]
    assert table["n_docs"].tolist() == [data.split(s)["product_id"].nunique() for s in ("novel_query", "zero_shot")]


def test_corpus_scope_in_the_tarball_layout(synthshop_smoke):
    half, split = load_gs(synthshop_smoke, splits=["zero_shot"]), load_gs(synthshop_smoke, corpus="split")
    assert half.corpus_for("zero_shot") is half.corpora[2] and len(half.corpora[2]) == 200
    own = split.corpus_for("zero_shot")
    assert len(own) == split.split("zero_shot")["product_id"].nunique() < 200
    a, b = _bm25_table(half, ["zero_shot"]), _bm25_table(split, ["zero_shot"])
    assert (a["corpus"].iat[0], a["n_docs"].iat[0]) == ("half", 200)
    assert (b["corpus"].iat[0], b["n_docs"].iat[0]) == ("split", len(own))


# ------------------------------------------------------------------------------------ malformed files
def test_csv_errors_name_physical_lines_after_embedded_newlines(synthshop_smoke, tmp_path):
    shop = shutil.copytree(synthshop_smoke, tmp_path / "shop")
    table = pd.read_csv(shop / IN_DOMAIN, dtype=str, keep_default_na=False)
    table.loc[1, "title"] = "wool coat\nsecond line\nthird line"
    table.loc[5, "score_linear"] = "-7"
    table.to_csv(shop / IN_DOMAIN, index=False)
    with pytest.raises(DataError, match=r"line 9, column 'score_linear': value '-7'"):
        load_gs(shop)
    assert "-7" in shop.joinpath(IN_DOMAIN).read_text().splitlines()[8].split(",")  # line 9 is 0-based 8


def test_ids_in_both_halves(synthshop_smoke, parquet_shop, tmp_path):
    shop = shutil.copytree(synthshop_smoke, tmp_path / "shop")
    corpus_1, corpus_2 = (json.loads((shop / f"corpus_{h}.json").read_text()) for h in (1, 2))
    pid = next(iter(corpus_1))
    corpus_2[pid] = corpus_1[pid]
    (shop / "corpus_2.json").write_text(json.dumps(corpus_2))
    with pytest.raises(
        DataError,
        match=rf"product '{pid}' is in both corpus halves \(.*corpus_1\.json and "
        rf".*corpus_2\.json; 1 such id",
    ):
        load_gs(shop)
    root = _parquet_copy(parquet_shop, tmp_path / "pq")
    a, b = pq.read_table(_shard(root, "in_domain")), pq.read_table(_shard(root, "zero_shot"))
    pid = a.column("product_id")[0].as_py()
    ids = b.column("product_id").to_pylist()
    ids[0] = pid
    pq.write_table(
        b.set_column(b.schema.get_field_index("product_id"), "product_id", pa.array(ids)), _shard(root, "zero_shot")
    )
    with pytest.raises(
        DataError,
        match=rf"product '{pid}' is in both corpus halves \(.*in_domain-.*\.parquet "
        rf"\(row group 0, row 0\) and .*zero_shot-.*\.parquet",
    ):
        load_gs(root)


def test_id_types_must_agree_between_shards(parquet_shop, tmp_path):
    root = _parquet_copy(parquet_shop, tmp_path / "pq", splits=["in_domain", "novel_query"])
    table = pq.read_table(_shard(root, "novel_query"))
    as_int = pa.array([int(p) % 2**64 for p in table.column("product_id").to_pylist()], pa.uint64())
    pq.write_table(
        table.set_column(table.schema.get_field_index("product_id"), "product_id", as_int), _shard(root, "novel_query")
    )
    with pytest.raises(
        DataError,
        match=r"column 'product_id' is string in .*in_domain-.*\.parquet but uint64 in "
        r".*novel_query-.*\.parquet: ids such as '0042' and 42",
    ):
        load_gs(root)


def test_a_malformed_row_after_an_embedded_newline_is_named_by_its_physical_line(synthshop_smoke, tmp_path):
    shop = shutil.copytree(synthshop_smoke, tmp_path / "shop")
    table = pd.read_csv(shop / IN_DOMAIN, dtype=str, keep_default_na=False)
    table.loc[1, "title"] = "wool coat\nsecond line\nthird line"
    table.to_csv(shop / IN_DOMAIN, index=False)
    lines = (shop / IN_DOMAIN).read_text().splitlines(keepends=True)
    lines[8] = lines[8].rstrip("\n") + ",one field too many\n"  # physical line 9 = record 6
    (shop / IN_DOMAIN).write_text("".join(lines))
    n_fields = len(table.columns)
    with pytest.raises(
        DataError,
        match=rf"{IN_DOMAIN}: not a readable CSV \(line 9: expected {n_fields} fields "
        rf"\(the header's\), saw {n_fields + 1}\)",
    ):
        load_gs(shop)


def test_a_parquet_shard_set_with_a_gap_names_the_missing_files(parquet_shop, tmp_path):
    root = _parquet_copy(parquet_shop, tmp_path / "pq")
    table = pq.read_table(_shard(root, "in_domain"))
    half = table.num_rows // 2
    _shard(root, "in_domain").unlink()
    for i, part in enumerate((table.slice(0, half), table.slice(half))):
        pq.write_table(part, root / "data" / f"in_domain-{i:05d}-of-00003.parquet")
    with pytest.raises(
        DataError,
        match=r"shard set in_domain-\*-of-00003\.parquet lacks 1 of its 3 files "
        r"\(.*in_domain-00002-of-00003\.parquet\); download the missing shards",
    ):
        load_gs(root)
    (root / "data" / "in_domain-00001-of-00003.parquet").rename(root / "data" / "in_domain-00002-of-00003.parquet")
    with pytest.raises(DataError, match=r"lacks 1 of its 3 files \(.*in_domain-00001-of-00003\.parquet\)"):
        load_gs(root)


def test_a_header_only_training_split_is_one_line(synthshop_smoke, tmp_path, capsys):
    shop = shutil.copytree(synthshop_smoke, tmp_path / "shop")
    header = (shop / IN_DOMAIN).read_text().splitlines()[0]
    (shop / IN_DOMAIN).write_text(header + "\n")
    out = tmp_path / "run"
    assert main(["train", "--data", str(shop), "--preset", "smoke", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "training split 'in_domain'" in err[0] and "has no rows: nothing to train on" in err[0]
    assert not out.exists()


@pytest.mark.parametrize("name", [IN_DOMAIN, "corpus_1.json", "parquet"])
def test_zero_byte_files(synthshop_smoke, parquet_shop, tmp_path, name):
    if name == "parquet":
        root = _parquet_copy(parquet_shop, tmp_path / "pq")
        path = _shard(root, "novel_query")
    else:
        root = shutil.copytree(synthshop_smoke, tmp_path / "shop")
        path = root / name
    path.write_bytes(b"")
    with pytest.raises(DataError, match=rf"{path.name}: empty file \(0 bytes\); re-extract or re-download it"):
        load_gs(root)


def test_plain_binary_image_column(synthshop_smoke, parquet_shop, tmp_path):
    root = _parquet_copy(parquet_shop, tmp_path / "pq")
    table = pq.read_table(_shard(root, "in_domain"))
    raw = table.column("image").combine_chunks().field("bytes")
    pq.write_table(table.set_column(0, "image", raw), _shard(root, "in_domain"), row_group_size=64)
    corpus, tarball = load_gs(root).corpora[1], load_gs(synthshop_smoke).corpora[1]
    pid = table.column("product_id")[0].as_py()
    assert np.array_equal(np.asarray(corpus.load_image(pid)), np.asarray(tarball.load_image(pid)))
    names = pa.array([f"{p}.jpg" for p in table.column("product_id").to_pylist()])
    pq.write_table(table.set_column(0, "image", names), _shard(root, "in_domain"))
    with pytest.raises(
        DataError,
        match=r"column 'image' has type string; expected the release's struct "
        r"\{bytes, path\} or plain binary image bytes",
    ):
        load_gs(root)


# ------------------------------------------------------------------------------------ reporting
def test_cli_reports_a_data_error_as_one_line_with_status_2(synthshop_smoke, tmp_path, capsys):
    shop = shutil.copytree(synthshop_smoke, tmp_path / "shop")
    table = pd.read_csv(shop / IN_DOMAIN, dtype=str, keep_default_na=False)
    table.loc[3, "score_linear"] = "high"
    table.to_csv(shop / IN_DOMAIN, index=False)
    args = ["evaluate", "--bm25", "--data", str(shop)]
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert (
        lines[0].startswith("gcl-nb evaluate: data error: ")
        and f"{IN_DOMAIN}, line 5, column 'score_linear'" in lines[0]
        and "fix or drop the row" in lines[0]
    )
    with pytest.raises(DataError, match="line 5"):
        main([*args, "--debug"])


@pytest.mark.slow  # starts a Jupyter kernel
@pytest.mark.parametrize("error", [DataError, SettingError])
def test_a_data_error_in_a_notebook_is_reported_as_one(tmp_path, error):
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [
        nbformat.v4.new_code_cell("run_dir = ''", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            f"from gcl_nb.data import {error.__name__}\nraise {error.__name__}('x.csv, line 3: fix it')"
        ),
    ]
    nbformat.write(nb, tmp_path / "bad.ipynb")
    with pytest.raises(error, match=r"x\.csv, line 3: fix it \(in .*bad\.ipynb, cell \[3\]\)"):
        notebooks.run_notebooks(tmp_path / "run", notebooks=["bad.ipynb"], notebook_dir=tmp_path, html=False)
