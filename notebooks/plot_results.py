"""Plots from a results folder written by `hamster run`.

    /usr/bin/python3 notebooks/plot_results.py results/quickstart [--out plots]

Writes map_vs_bits.png (mAP@all and mAP@1000 per hasher and re-ranker against code
length) and pr_curves.png (Hamming-radius PR curve per hasher at each code length), and
prints the numbers it plotted. Needs python3-matplotlib.
"""
import argparse
import json
import os
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(results_dir):
    with open(os.path.join(results_dir, "results.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def plot_map_vs_bits(records, out):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ["mAP@all", "mAP@1000"]):
        series = defaultdict(dict)
        for r in records:
            if metric in r["metrics"]:
                series[(r["hasher"], r["reranker_label"])][r["bits"]] = r["metrics"][metric]
        for (hasher, reranker), points in sorted(series.items()):
            bits = sorted(points)
            ax.plot(bits, [points[b] for b in bits], marker="o", label=f"{hasher} + {reranker}")
            print(metric, hasher, reranker, {b: round(points[b], 4) for b in bits})
        ax.set_xlabel("bits")
        ax.set_ylabel(metric)
        ax.set_xticks(sorted({r["bits"] for r in records}))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "map_vs_bits.png"), dpi=120)


def plot_pr_curves(records, out):
    fig, ax = plt.subplots(figsize=(5, 4))
    seen = set()
    for r in records:
        key = (r["hasher"], r["bits"])
        if key in seen:
            continue  # the PR curve is a stage-1 property: the same for every re-ranker
        seen.add(key)
        pr = r["pr_curve"]
        ax.plot(pr["radius_recall"], pr["radius_precision"], label=f"{r['hasher']} {r['bits']}b")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Hamming radius PR curves")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "pr_curves.png"), dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir")
    parser.add_argument("--out", default=None, help="folder for the PNGs (default: results_dir)")
    args = parser.parse_args()
    out = args.out or args.results_dir
    os.makedirs(out, exist_ok=True)
    records = load(args.results_dir)
    plot_map_vs_bits(records, out)
    plot_pr_curves(records, out)


if __name__ == "__main__":
    main()
