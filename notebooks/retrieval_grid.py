"""A retrieval grid: for a few queries, the top 10 before and after re-ranking.

    /usr/bin/python3 notebooks/retrieval_grid.py RESULTS_DIR --cell CELL
        [--baseline-reranker none] [--queries 6] [--seed 0] [--top 10] [--out grid.png]
        [--hamster build/experiments/hamster]

One row per query (drawn with --seed, so the same queries every time): the query image,
its top 10 in the baseline cell (the same build, same queries, re-ranked by
--baseline-reranker; `none` is stage 1 alone) and its top 10 in CELL. Relevant items (a
label shared with the query) are framed green, the others red; each row says how many of
the top 10 are relevant before and after.

The rankings are the cells' raw files (results/<name>/raw/, the final top L of every
query); images and labels come from `hamster images`, which loads the dataset the way
the run did. Needs python3-numpy and python3-matplotlib (Debian packages).
"""
import argparse
import gzip
import os
import subprocess
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import hamster_records  # noqa: E402

RELEVANT = "#00a000"
IRRELEVANT = "#d00000"
DEFAULT_HAMSTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "build",
                               "experiments", "hamster")


def read_raw(path):
    """(query items, n_queries x L ranked items) of a raw file (layout in raw_results.h)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 16 or data[:4] != b"HRAW":
        raise SystemExit(f"{path}: not a hamster raw results file")
    version, nq, top = np.frombuffer(data, "<i4", 3, 4)
    if version != 1:
        raise SystemExit(f"{path}: raw results version {version}, expected 1")
    values = np.frombuffer(data, "<i4", offset=16)
    if values.size != nq + nq * top:
        raise SystemExit(f"{path}: truncated: {nq} queries x L = {top} in the header, "
                         f"{values.size} values")
    return values[:nq], values[nq:].reshape(nq, top)


def find_pair(records, cell, baseline="none"):
    """The record of `cell` and that of its build's `baseline` re-ranker (same build, same
    query set, same shortlist)."""
    after = [r for r in records if r["cell"] == cell]
    if not after:
        examples = ", ".join(r["cell"] for r in records[:3])
        raise SystemExit(f"no cell '{cell}' (cells look like {examples})")
    after = after[0]

    def same_build(r):
        return (r["provenance"].get("build_key") == after["provenance"].get("build_key")
                and r.get("queries_from", "test") == after.get("queries_from", "test")
                and r["shortlist"] == after["shortlist"])

    before = [r for r in records if same_build(r) and baseline in (r["reranker_label"], r["reranker"])]
    if not before:
        raise SystemExit(f"cell '{cell}' has no '{baseline}' cell of the same build to compare with")
    for r in (before[0], after):
        if "raw" not in r:
            raise SystemExit(f"cell {r['cell']} has no raw results (written before hamster "
                             "stored them); run its config again with --force")
    return before[0], after


def fetch_items(results_dir, cell, items, hamster=None):
    """Images (n x C x H x W uint8) and multi-hot labels of dataset items, via `hamster images`."""
    hamster = hamster or os.environ.get("HAMSTER_BINARY") or DEFAULT_HAMSTER
    if not os.path.exists(hamster):
        raise SystemExit(f"{hamster}: no hamster binary (build it, or pass --hamster)")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [hamster, "images", results_dir, "--cell", cell, "--out", tmp,
             "--items", ",".join(str(int(i)) for i in items)],
            capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"hamster images failed: {done.stderr.strip()}")
        return np.load(os.path.join(tmp, "images.npy")), np.load(os.path.join(tmp, "labels.npy"))


def choose_queries(n_queries, count, seed):
    """`count` query positions drawn with `seed`, in order."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_queries, size=min(count, n_queries), replace=False))


def _show(ax, image, colour=None):
    if image.shape[0] == 1:
        ax.imshow(image[0], cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(np.transpose(image, (1, 2, 0)))
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(colour is not None)
        if colour:
            spine.set_edgecolor(colour)
            spine.set_linewidth(3)


def draw_grid(results_dir, cell, baseline="none", queries=6, seed=0, top=10, hamster=None):
    """The grid as a matplotlib figure (see the module's docstring)."""
    records = hamster_records.records(results_dir)
    before, after = find_pair(records, cell, baseline)
    q_before, ranked_before = read_raw(os.path.join(results_dir, before["raw"]))
    q_after, ranked_after = read_raw(os.path.join(results_dir, after["raw"]))
    if not np.array_equal(q_before, q_after):
        raise SystemExit(f"cells {before['cell']} and {cell} have different queries")
    top = min(top, ranked_after.shape[1])
    rows = choose_queries(len(q_after), queries, seed)
    items = np.concatenate([q_after[rows], ranked_before[rows, :top].ravel(),
                            ranked_after[rows, :top].ravel()])
    unique, where = np.unique(items, return_inverse=True)
    images, labels = fetch_items(results_dir, cell, unique, hamster)
    images, labels = images[where], labels[where].astype(bool)
    n = len(rows)
    query_images, query_labels = images[:n], labels[:n]
    blocks = [(images[n + b * n * top: n + (b + 1) * n * top].reshape(n, top, *images.shape[1:]),
               labels[n + b * n * top: n + (b + 1) * n * top].reshape(n, top, -1))
              for b in range(2)]

    # Columns: the query, a gap, the baseline's top, a gap, the re-ranked top.
    widths = [1, 0.3] + [1] * top + [0.4] + [1] * top
    fig, axes = plt.subplots(n, len(widths), figsize=(0.62 * sum(widths) + 0.5, 0.75 * n + 0.6),
                             gridspec_kw={"width_ratios": widths}, squeeze=False)
    for row in range(n):
        _show(axes[row][0], query_images[row])
        hits = []
        for b, (imgs, labs) in enumerate(blocks):
            relevant = (labs[row] & query_labels[row]).any(axis=1)
            hits.append(int(relevant.sum()))
            start = 2 + b * (top + 1)
            for j in range(top):
                _show(axes[row][start + j], imgs[row][j], RELEVANT if relevant[j] else IRRELEVANT)
        axes[row][0].set_ylabel(f"{hits[0]}→{hits[1]}", rotation=0, ha="right", va="center",
                                fontsize=8)
        for gap in (1, top + 2):
            axes[row][gap].axis("off")
    axes[0][0].set_title("query", fontsize=8)
    axes[0][2 + top // 2].set_title(f"before: {before['reranker_label']} (top {top})", fontsize=8)
    axes[0][3 + top + top // 2].set_title(f"after: {after['reranker_label']} (top {top})",
                                          fontsize=8)
    fig.suptitle(f"{after['hasher']} {after['bits']} bits seed {after['seed']}: relevant framed "
                 f"green, others red; queries drawn with seed {seed}", fontsize=9)
    fig.subplots_adjust(wspace=0.08, hspace=0.12, left=0.05, right=0.99, top=0.86, bottom=0.02)
    return fig


def make_grid(results_dir, cell, out, baseline="none", queries=6, seed=0, top=10, hamster=None):
    """Writes the grid of `cell` to `out` (PNG) and returns `out`."""
    fig = draw_grid(results_dir, cell, baseline, queries, seed, top, hamster)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir")
    parser.add_argument("--cell", required=True, help="the re-ranked cell, as in the table's ids")
    parser.add_argument("--baseline-reranker", default="none",
                        help="the same build's re-ranker to compare with (default: none)")
    parser.add_argument("--queries", type=int, default=6, help="rows (default 6)")
    parser.add_argument("--seed", type=int, default=0, help="draw of the queries (default 0)")
    parser.add_argument("--top", type=int, default=10, help="items per ranking (default 10)")
    parser.add_argument("--out", default="grid.png")
    parser.add_argument("--hamster", default=None, help="the hamster binary (default: "
                        "$HAMSTER_BINARY, else build/experiments/hamster)")
    args = parser.parse_args()
    make_grid(args.results_dir, args.cell, args.out, args.baseline_reranker, args.queries,
              args.seed, args.top, args.hamster)
    print(f"retrieval grid of {args.cell} against {args.baseline_reranker}: {args.out}")


if __name__ == "__main__":
    main()
