"""The README's two pictures, from committed files: the query explorer of notebook 03 as the published page shows
it (docs/notebooks, a real `cpu` run; a Chromium screenshot) and the headline results chart (results/synthshop_cpu.csv,
3 seeds). Writes docs/images/explorer.png and docs/images/results_ndcg.png.

    python scripts/readme_images.py   # needs matplotlib, playwright and Chromium (/usr/bin/chromium)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gcl_nb.data.schema import SPLITS

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
METHODS = {
    "bm25": "BM25 (titles)",
    "clip": "CLIP loss",
    "gcl-linear": "GCL (linear)",
    "gcl-multipos": "GCL multi-positive",
}


def results_chart(csv: Path = ROOT / "results" / "synthshop_cpu.csv", out: Path = IMAGES / "results_ndcg.png") -> Path:
    """Mean NDCG@10 over the seeds per method and split, with the seeds' standard deviation as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = pd.read_csv(csv)
    stats = table[table["method"].isin(list(METHODS))].groupby(["method", "split"])["ndcg@10"].agg(["mean", "std"])
    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=120)
    width = 0.8 / len(METHODS)
    for i, (method, label) in enumerate(METHODS.items()):
        rows = stats.loc[method].reindex(list(SPLITS))
        xs = [s + (i - (len(METHODS) - 1) / 2) * width for s in range(len(SPLITS))]
        ax.bar(xs, rows["mean"], width, yerr=rows["std"].fillna(0), capsize=2, label=label)
    ax.set_xticks(range(len(SPLITS)), SPLITS)
    ax.set_ylabel("NDCG@10")
    ax.set_ylim(0, 1)
    ax.set_title("SynthShop, cpu preset: mean of 3 seeds (BM25: 1 run), results/synthshop_cpu.csv", fontsize=9)
    ax.legend(ncol=4, fontsize=8, loc="upper center", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


def explorer_screenshot(
    page: Path = ROOT / "docs" / "notebooks" / "03_ranking_analysis.html", out: Path = IMAGES / "explorer.png"
) -> Path:
    """The first query explorer output of the published notebook 03 page, as Chromium draws it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        tab = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
        tab.goto(page.as_uri())
        explorer = tab.locator(".jp-OutputArea-output", has_text="first relevant at rank").first
        explorer.screenshot(path=str(out))
        browser.close()
    return out


if __name__ == "__main__":
    for path in (results_chart(), explorer_screenshot()):
        print(path.relative_to(ROOT))
