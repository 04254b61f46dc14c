"""Load a hamster results folder with pandas; pivot tables and plots for papers.

    /usr/bin/python3 notebooks/hamster_results.py RESULTS_DIR [--out DIR]

writes, as PNG and SVG: map_vs_bits (mAP per hasher x re-ranker against code length,
mean and std over seeds), pr_curves (Hamming-radius PR curves per build), p_at_k (P@k
per hasher x re-ranker) and map_vs_time (accuracy against re-rank time per query, the
ann-benchmarks view); and prints the pivoted mean +- std table of mAP@all.

Series are keyed by every field that varies between records (dataset, hasher label
with its parameters, re-ranker label, queries, shortlist), so nothing is silently drawn
over; seeds are aggregated explicitly (mean, std). Needs python3-pandas and
python3-matplotlib (Debian packages).
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

# Fields that identify a series besides code length and seed.
SERIES_FIELDS = ["dataset", "protocol", "hasher_label", "reranker_label", "queries_from", "shortlist"]


def hasher_label(record):
    params = record.get("hasher_params") or {}
    if not params:
        return record["hasher"]
    return record["hasher"] + "(" + ",".join(f"{k}={v}" for k, v in sorted(params.items())) + ")"


def load(results_dir):
    """One row per cell: identity fields, every metric, every time, the code diagnostics
    (diag:*) and the re-ranker's (rerank_diag:*)."""
    path = os.path.join(results_dir, "results.jsonl")
    rows, curves = [], {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{number}: not a JSON record ({e})")
            row = {
                "cell": r["cell"],
                "dataset": r.get("dataset", ""),
                "protocol": r.get("protocol", ""),
                "hasher": r["hasher"],
                "hasher_label": hasher_label(r),
                "bits": r["bits"],
                "seed": r["seed"],
                "reranker": r["reranker"],
                "reranker_label": r["reranker_label"],
                "queries_from": r.get("queries_from", "test"),
                "shortlist": r["shortlist"],
                "chosen_epoch": (r.get("fit_summary") or {}).get("chosen_epoch"),
            }
            row.update(r["metrics"])
            row.update({f"time:{k}": v for k, v in r["times"].items()})
            # Records keep the codes' diagnostics and the re-ranker's apart.
            for k, v in (r.get("code_diagnostics") or {}).items():
                row[f"diag:{k}"] = v
            for k, v in (r.get("reranker_diagnostics") or {}).items():
                row[f"rerank_diag:{k}"] = v
            rows.append(row)
            curves[r["cell"]] = r.get("pr_curve")
    if not rows:
        raise SystemExit(f"{path}: no records")
    frame = pd.DataFrame(rows)
    frame.attrs["pr_curves"] = curves
    return frame


def varying(frame, fields=SERIES_FIELDS):
    """The series fields that take more than one value here (the rest go in titles)."""
    return [f for f in fields if f in frame and frame[f].nunique() > 1]


def pivot(frame, rows=("hasher_label", "bits"), cols=("reranker_label",), metric="mAP@all"):
    """Mean +- std over seeds, as strings. Refuses to average over anything but seeds: a
    field that varies inside one table cell must go in rows or cols, or be filtered."""
    keys = list(rows) + list(cols)
    for field in SERIES_FIELDS:
        if field not in keys and field in frame and (frame.groupby(keys)[field].nunique() > 1).any():
            raise ValueError(f"{field} varies inside a table cell: add it to rows or cols, "
                             f"or select one value first (e.g. frame[frame.{field} == ...])")
    grouped = frame.groupby(list(rows) + list(cols))[metric].agg(["mean", "std", "count"])

    def cell(r):
        return f"{r['mean']:.4f}" if r["count"] < 2 else f"{r['mean']:.4f} ± {r['std']:.4f}"

    text = grouped.apply(cell, axis=1)
    return text.unstack(list(cols)) if cols else text.to_frame(metric)


STYLES = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1)), "v"), ((0, (1, 3)), "P")]


def _save(fig, out, name):
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(out, f"{name}.{ext}"), dpi=120, bbox_inches="tight")
    plt.close(fig)


def _series_name(key, fields):
    key = key if isinstance(key, tuple) else (key,)
    return " | ".join(str(v) for v in key) if fields else "all"


def plot_map_vs_bits(frame, out, metrics=("mAP@all", "mAP@1000")):
    fields = ["hasher_label", "reranker_label"] + [
        f for f in varying(frame) if f not in ("hasher_label", "reranker_label")
    ]
    metrics = [m for m in metrics if m in frame]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        stats = frame.groupby(fields + ["bits"])[metric].agg(["mean", "std"]).reset_index()
        # Colour by re-ranker, line style and marker by hasher: 10 colours never repeat
        # within one hasher.
        rerankers = sorted(frame["reranker_label"].unique())
        hashers = sorted(frame["hasher_label"].unique())
        for key, s in stats.groupby(fields):
            h = hashers.index(key[0]) % len(STYLES)
            c = rerankers.index(key[1])
            ax.errorbar(s["bits"], s["mean"], yerr=s["std"].fillna(0), capsize=3,
                        color=plt.cm.tab20(c % 20), linestyle=STYLES[h][0], marker=STYLES[h][1],
                        label=_series_name(key, fields))
        ax.set_xlabel("bits")
        ax.set_ylabel(metric + " (mean ± std over seeds)")
        ax.set_xticks(sorted(frame["bits"].unique()))
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1))
    _save(fig, out, "map_vs_bits")


def plot_pr_curves(frame, out):
    fig, ax = plt.subplots(figsize=(5.5, 4))
    # The PR curve is a stage-1 property of a build: one per (dataset, hasher, bits, seed).
    builds = frame.drop_duplicates(["dataset", "hasher_label", "bits", "seed"])
    for _, r in builds.iterrows():
        pr = frame.attrs["pr_curves"].get(r["cell"])
        if pr:
            ax.plot(pr["radius_recall"], pr["radius_precision"],
                    label=f"{r['hasher_label']} {r['bits']}b seed {r['seed']}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title("Hamming-radius PR curves")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1))
    ax.grid(alpha=0.3)
    _save(fig, out, "pr_curves")


def plot_p_at_k(frame, out):
    ks = sorted(int(c[2:]) for c in frame.columns if c.startswith("P@") and c[2:].isdigit())
    if not ks:
        return
    fields = ["hasher_label", "bits", "reranker_label"]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    means = frame.groupby(fields)[[f"P@{k}" for k in ks]].mean()
    for key, values in means.iterrows():
        ax.plot(ks, values.values, marker="o", label=_series_name(key, fields))
    ax.set_xlabel("k")
    ax.set_ylabel("P@k (mean over seeds)")
    ax.set_xscale("log")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1))
    ax.grid(alpha=0.3)
    _save(fig, out, "p_at_k")


def plot_map_vs_time(frame, out, metric="mAP@1000"):
    if metric not in frame:
        metric = "mAP@all"
    fields = ["hasher_label", "bits", "reranker_label"]
    agg = frame.groupby(fields)[[metric, "time:rerank_us_per_query"]].mean().reset_index()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for reranker, s in agg.groupby("reranker_label"):
        # Stage 1 alone has no re-rank time: plot it at a floor so the log axis keeps it.
        ax.scatter((s["time:rerank_us_per_query"] / 1000).clip(lower=1e-4), s[metric],
                   label=reranker)
    ax.set_xscale("log")
    ax.set_xlabel("re-rank ms per query")
    ax.set_ylabel(metric)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1))
    ax.grid(alpha=0.3)
    _save(fig, out, "map_vs_time")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir")
    parser.add_argument("--out", default=None, help="folder for the figures (default: results_dir)")
    args = parser.parse_args()
    out = args.out or args.results_dir
    os.makedirs(out, exist_ok=True)
    frame = load(args.results_dir)
    if frame["queries_from"].nunique() > 1:  # tuning records beside test records
        frame = frame[frame["queries_from"] == "test"]
    plot_map_vs_bits(frame, out)
    plot_pr_curves(frame, out)
    plot_p_at_k(frame, out)
    plot_map_vs_time(frame, out)
    try:
        print(pivot(frame).to_string())
    except ValueError as e:
        print(f"no default table: {e}")
    print(f"figures in {out}: map_vs_bits, pr_curves, p_at_k, map_vs_time (.png, .svg)")


if __name__ == "__main__":
    main()
