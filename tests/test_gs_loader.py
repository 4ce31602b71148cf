"""load_gs on both layouts, export_parquet round trip, and one test per bad-input case."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gcl_nb.data import PAIR_COLUMNS, SPLITS, DataError, export_parquet, load_gs
from gcl_nb.data.gs.images import PARQUET_ROW_GROUP_CACHE

IN_DOMAIN = "query_0_product_id_0.csv"


@pytest.fixture
def shop(synthshop_smoke, tmp_path):
    """A private, editable copy of the smoke data set."""
    return shutil.copytree(synthshop_smoke, tmp_path / "shop")


@pytest.fixture(scope="module")
def parquet_shop(synthshop_smoke, tmp_path_factory):
    return export_parquet(synthshop_smoke, tmp_path_factory.mktemp("pq") / "shop", row_group_size=64)


def _edit_csv(root, edit, name=IN_DOMAIN):
    path = root / name
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(table)
    table.to_csv(path, index=False)


def _edit_corpus(root, edit, half=1):
    path = root / f"corpus_{half}.json"
    corpus = json.loads(path.read_text())
    edit(corpus)
    path.write_text(json.dumps(corpus))


def _first_product(root, half=1):
    return next(iter(json.loads((root / f"corpus_{half}.json").read_text())))


# --------------------------------------------------------------------------------------------- good data
def test_tarball_tables_and_types(synthshop_smoke):
    data = load_gs(synthshop_smoke)
    assert data.layout == "tarball" and data.root == synthshop_smoke and data.n_bad_images == 0
    table = data.split("in_domain")
    assert tuple(table.columns) == PAIR_COLUMNS
    assert table["position"].dtype == np.int64 and table["score_linear"].dtype == np.float64
    for col in ("query_id", "product_id", "pair_id"):
        assert all(isinstance(v, str) for v in table[col].head())
    assert table["query_id"].str.startswith("0").all()  # leading zeros kept
    corpus = data.corpus_for("in_domain")
    assert corpus.half == 1 and data.corpora[1] is corpus and data.corpus_for("zero_shot").half == 2
    assert set(table["product_id"]) <= set(corpus.products.index)  # 20-digit ids match the JSON keys
    pid = table["product_id"].iat[0]
    img = corpus.load_image(pid)
    assert img.mode == "RGB" and img.size == (32, 32) and corpus.has_image(pid)
    assert not corpus.has_image("no-such-product")


def test_image_root_resolves_by_file_name(shop, tmp_path):
    moved = shutil.move(shop / "images", tmp_path / "elsewhere")
    with pytest.raises(DataError, match="image_root"):
        load_gs(shop)
    data = load_gs(shop, image_root=moved)
    pid = _first_product(shop)
    assert data.corpora[1].load_image(pid).size == (32, 32)


@pytest.mark.parametrize(
    "pattern", ["{split}/part-0.parquet", "data/{split}-00000-of-00001.parquet", "{split}-00000-of-00001.parquet"]
)
def test_parquet_layouts_load_identically(synthshop_smoke, parquet_shop, tmp_path, pattern):
    tarball = load_gs(synthshop_smoke)
    for split in SPLITS:
        target = tmp_path / pattern.format(split=split)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(parquet_shop / "data" / f"{split}-00000-of-00001.parquet", target)
    data = load_gs(tmp_path)
    assert data.layout == "parquet" and data.splits == SPLITS
    for split in SPLITS:
        pd.testing.assert_frame_equal(data.split(split), tarball.split(split))
    for half in (1, 2):
        pd.testing.assert_frame_equal(
            data.corpora[half].products[["title"]].sort_index(), tarball.corpora[half].products[["title"]].sort_index()
        )


def test_export_keeps_image_bytes(synthshop_smoke, parquet_shop):
    tarball, parquet = load_gs(synthshop_smoke), load_gs(parquet_shop)
    schema = pq.read_schema(parquet_shop / "data" / "in_domain-00000-of-00001.parquet")
    assert schema.field("image").type == pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    assert schema.field("score_linear").type == pa.int64() and schema.field("product_id").type == pa.string()
    corpus = parquet.corpora[2]
    for pid in corpus.products.index[:5]:
        assert np.array_equal(np.asarray(corpus.load_image(pid)), np.asarray(tarball.corpora[2].load_image(pid)))


def test_parquet_images_read_lazily_with_bounded_cache(parquet_shop):
    corpus = load_gs(parquet_shop).corpora[1]
    for pid in corpus.products.index:  # walks every row group of the shards
        corpus.load_image(pid)
    assert len(corpus.images._groups) == PARQUET_ROW_GROUP_CACHE


# ---------------------------------------------------------------------------------------------- bad input
def test_missing_columns(shop):
    _edit_csv(shop, lambda t: t.drop(columns=["score_linear"], inplace=True))
    with pytest.raises(DataError, match=r"query_0_product_id_0\.csv: missing column\(s\) \['score_linear'\]"):
        load_gs(shop)


@pytest.mark.parametrize("value", ["", "nan", "inf", "-3", "abc"])
def test_bad_scores(shop, value):
    def edit(t):
        t.loc[4, "score_reciprocal"] = value

    _edit_csv(shop, edit)
    with pytest.raises(DataError, match=r"query_0_product_id_0\.csv, line 6, column 'score_reciprocal'"):
        load_gs(shop)


def test_duplicate_pairs(shop):
    def edit(t):
        t.loc[len(t)] = t.loc[2]

    _edit_csv(shop, edit)
    with pytest.raises(DataError, match=r"duplicate \(query, product_id\) pair .* first seen at line 4"):
        load_gs(shop)


def test_product_not_in_its_corpus_half(shop):
    pid = pd.read_csv(shop / IN_DOMAIN, dtype=str)["product_id"].iat[0]
    _edit_corpus(shop, lambda c: c.pop(pid))
    with pytest.raises(DataError, match=rf"line 2, column 'product_id': product '{pid}' is not in corpus half 1"):
        load_gs(shop)


def test_empty_query_is_an_error(shop):
    def edit(t):
        t.loc[7, "query"] = "  "

    _edit_csv(shop, edit)
    with pytest.raises(DataError, match=r"line 9, column 'query': value is missing or empty"):
        load_gs(shop)


def test_missing_titles_load_and_are_counted(shop):
    def edit(t):
        t.loc[7, "title"] = ""

    _edit_csv(shop, edit)
    no_key, null, empty = list(json.loads((shop / "corpus_2.json").read_text()))[:3]

    def edit_corpus(c):
        c[no_key].pop("title")
        c[null]["title"] = None
        c[empty]["title"] = ""

    _edit_corpus(shop, edit_corpus, half=2)
    with pytest.warns(UserWarning, match=r"rows without a title: in_domain 1 of [\d,]+, corpus_2 3 of 200"):
        data = load_gs(shop)
    assert data.split("in_domain")["title"].iat[7] == ""
    assert (data.corpora[2].products.loc[[no_key, null, empty], "title"] == "").all()
    missing = data.missing
    assert missing.loc["in_domain", ["no_title", "no_image", "no_field"]].tolist() == [1, 0, 0]
    assert missing.loc["corpus_2", "no_title"] == 3 and missing.loc["corpus_1", "no_title"] == 0
    assert missing.loc["corpus_2", "rows"] == 200


def test_missing_titles_in_parquet(parquet_shop, tmp_path):
    root = shutil.copytree(parquet_shop, tmp_path / "pq")
    path = root / "data" / "in_domain-00000-of-00001.parquet"
    table = pq.read_table(path)
    pid = table.column("product_id")[0].as_py()
    titles = [
        None if p == pid else t
        for p, t in zip(table.column("product_id").to_pylist(), table.column("title").to_pylist())
    ]
    pq.write_table(
        table.set_column(table.schema.get_field_index("title"), "title", pa.array(titles, pa.string())),
        path,
        row_group_size=64,
    )
    n_rows = titles.count(None)
    with pytest.warns(UserWarning, match=f"rows without a title: in_domain {n_rows} of"):
        data = load_gs(root)
    assert data.corpora[1].products.loc[pid, "title"] == ""
    assert data.missing.loc["corpus_1", "no_title"] == 1


def test_parquet_further_string_columns_load_as_text_fields(parquet_shop, tmp_path):
    """A string column beyond the release's is a document text field (null -> "", "" in splits without it), as a
    further field of a tarball corpus entry; a non-string one is not."""
    root = shutil.copytree(parquet_shop, tmp_path / "pq")
    path = root / "data" / "in_domain-00000-of-00001.parquet"
    table = pq.read_table(path)
    pids = table.column("product_id").to_pylist()
    brands = [None if p == pids[0] else f"brand {p[-1]}" for p in pids]
    table = table.append_column("brand", pa.array(brands, pa.string()))
    table = table.append_column("stock", pa.array(range(len(pids))))
    pq.write_table(table, path, row_group_size=64)
    products = load_gs(root).corpora[1].products
    assert list(products.columns) == ["title", "brand"]
    assert products.loc[pids[1], "brand"] == f"brand {pids[1][-1]}" and products.loc[pids[0], "brand"] == ""
    only_novel_query = set(load_gs(root, splits=["novel_query"], corpus="split").split("novel_query")["product_id"])
    assert (products.loc[list(only_novel_query - set(pids)), "brand"] == "").all()


@pytest.mark.parametrize("check_images", ["exists", "none"])
def test_parquet_null_image_is_no_image(parquet_shop, tmp_path, check_images):
    """A null image names no image, as a tarball entry without image_local: a missing field, not a bad image."""
    root = shutil.copytree(parquet_shop, tmp_path / "pq")
    path = root / "data" / "in_domain-00000-of-00001.parquet"
    table = pq.read_table(path)
    pids = table.column("product_id").to_pylist()
    images = [None if p == pids[0] else im for p, im in zip(pids, table.column("image").to_pylist())]
    pq.write_table(
        table.set_column(0, "image", pa.array(images, table.schema.field("image").type)), path, row_group_size=64
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load_gs(root, check_images=check_images)
    assert data.bad_images == () and not data.corpora[1].has_image(pids[0]) and data.corpora[1].has_image(pids[1])
    assert data.missing.loc["corpus_1", "no_image"] == 1


def test_export_parquet_keeps_further_fields_and_products_without_image(shop, tmp_path):
    pid, other = list(json.loads((shop / "corpus_1.json").read_text()))[:2]

    def edit(corpus):
        for key, entry in corpus.items():
            entry["brand"] = f"brand of {key}"
        del corpus[pid]["image_local"]

    _edit_corpus(shop, edit)
    tarball = load_gs(shop)
    out = export_parquet(shop, tmp_path / "pq")
    assert pq.read_schema(out / "data" / "in_domain-00000-of-00001.parquet").field("brand").type == pa.string()
    parquet = load_gs(out)
    judged = parquet.corpora[1].products.index
    pd.testing.assert_frame_equal(
        parquet.corpora[1].products.sort_index(),
        tarball.corpora[1].products.loc[judged, ["title", "brand"]].sort_index(),
    )
    assert pid in judged and not parquet.corpora[1].has_image(pid) and parquet.corpora[1].has_image(other)


def test_missing_image_error_or_skip(shop):
    pid = _first_product(shop)
    (shop / "images" / f"{pid}.jpg").unlink()
    with pytest.raises(DataError, match=rf"product '{pid}'.*missing image file .*{pid}\.jpg"):
        load_gs(shop)
    with pytest.warns(UserWarning, match="skipped 1 missing or unreadable"):
        data = load_gs(shop, on_bad_image="skip")
    assert data.n_bad_images == 1 and data.bad_images == (pid,)
    assert not data.corpora[1].has_image(pid)
    with pytest.raises(DataError, match="skipped at load time"):
        data.corpora[1].load_image(pid)


def test_unreadable_image(shop):
    pid = _first_product(shop)
    (shop / "images" / f"{pid}.jpg").write_bytes(b"not a jpeg at all")
    lazy = load_gs(shop)  # the default check only lists files; decoding fails on use
    with pytest.raises(DataError, match=rf"product '{pid}': image .*{pid}\.jpg cannot be decoded"):
        lazy.corpora[1].load_image(pid)
    with pytest.raises(DataError, match="cannot be decoded"):
        load_gs(shop, check_images="decode")
    with pytest.warns(UserWarning, match="skipped 1"):
        data = load_gs(shop, check_images="decode", on_bad_image="skip")
    assert data.bad_images == (pid,)


def test_parquet_null_image_bytes(parquet_shop, tmp_path):
    src = parquet_shop / "data" / "in_domain-00000-of-00001.parquet"
    table = pq.read_table(src)
    images = table.column("image").to_pylist()
    pid = table.column("product_id")[0].as_py()
    images = [
        {"bytes": None, "path": None} if p == pid else im
        for im, p in zip(images, table.column("product_id").to_pylist())
    ]
    out = tmp_path / "data"
    out.mkdir()
    pq.write_table(
        table.set_column(0, "image", pa.array(images, type=table.schema.field("image").type)),
        out / "in_domain-00000-of-00001.parquet",
        row_group_size=64,
    )
    with pytest.raises(DataError, match=rf"product '{pid}'.*no image bytes"):
        load_gs(tmp_path, corpus="split")
    with pytest.warns(UserWarning, match="skipped 1"):
        assert load_gs(tmp_path, on_bad_image="skip", corpus="split").bad_images == (pid,)


def test_images_never_opened_outside_root(shop, tmp_path):
    pid, other = list(json.loads((shop / "corpus_1.json").read_text()))[:2]
    outside = tmp_path / "secret.jpg"
    shutil.copy(shop / "images" / f"{pid}.jpg", outside)
    (shop / "images" / f"{pid}.jpg").unlink()
    (shop / "images" / f"{pid}.jpg").symlink_to(outside)
    _edit_corpus(shop, lambda c: c[other].update(image_local="/input/images/.."))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_gs(shop, on_bad_image="skip")
    with pytest.raises(DataError, match="link leading outside the image root"):
        data.corpora[1].load_image(pid)
    assert other in data.bad_images  # '..' is no file name under the root


def test_unknown_split_names(synthshop_smoke):
    data = load_gs(synthshop_smoke, splits=["in_domain"])
    assert data.splits == ("in_domain",)
    with pytest.raises(DataError, match="unknown split 'train'"):
        data.split("train")
    with pytest.raises(DataError, match="not in .*present are in_domain"):
        data.split("zero_shot")
    with pytest.raises(DataError, match="unknown split 'test'"):
        load_gs(synthshop_smoke, splits=["test"])


def test_not_a_data_folder(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        load_gs(tmp_path / "missing")
    with pytest.raises(DataError, match="no Marqo-GS split found"):
        load_gs(tmp_path)
    with pytest.raises(ValueError, match="on_bad_image"):
        load_gs(tmp_path, on_bad_image="ignore")
