"""Load a hamster results folder with pandas; pivot tables and plots for papers.

    /usr/bin/python3 notebooks/hamster_results.py RESULTS_DIR [--out DIR]

writes, as PNG and SVG: map_vs_bits (mAP per hasher x re-ranker against code length,
mean and std over seeds), pr_curves (Hamming-radius PR curves per build), p_at_k (P@k
per hasher, a line per re-ranker and length) and map_vs_time (accuracy against re-rank
time per query with the Pareto frontier, stage 1 alone apart; the ann-benchmarks
view); and prints the pivoted mean +- std table of mAP@all. Every figure keeps the
config's order and gives each re-ranker one colour (reranker_colours).

Series are keyed by every field that varies between records (dataset, hasher label
with its parameters, re-ranker label, queries, shortlist), so nothing is silently drawn
over; seeds are aggregated explicitly (mean, std). Needs python3-pandas and
python3-matplotlib (Debian packages).
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import hamster_records  # noqa: E402

# Fields that identify a series besides code length and seed.
SERIES_FIELDS = ["dataset", "protocol", "hasher_label", "reranker_label", "queries_from", "shortlist"]
# What each record says of where it came from (kept as prov:* columns).
PROVENANCE = ["git_sha", "git_dirty", "config_hash", "timestamp", "cpu_model", "host", "threads",
              "versions"]
# Stage 1 alone: drawn apart from the re-rankers in every figure, always in this colour.
BASELINE = "none"
BASELINE_COLOUR = "black"


def hasher_label(record):
    params = record.get("hasher_params") or {}
    if not params:
        return record["hasher"]
    return record["hasher"] + "(" + ",".join(f"{k}={v}" for k, v in sorted(params.items())) + ")"


def load(results_dir):
    """One row per cell: identity fields, every metric, every time, the code diagnostics
    (diag:*) and the re-ranker's (rerank_diag:*)."""
    rows, curves = [], {}
    for r in hamster_records.records(results_dir):
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
        prov = r.get("provenance") or {}
        row.update({f"prov:{k}": prov.get(k) for k in PROVENANCE})
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
        raise SystemExit(f"{os.path.join(results_dir, 'results.jsonl')}: no records")
    frame = pd.DataFrame(rows)
    frame.attrs["pr_curves"] = curves
    return frame


def varying(frame, fields=SERIES_FIELDS):
    """The series fields that take more than one value here (the rest go in titles)."""
    return [f for f in fields if f in frame and frame[f].nunique() > 1]


def order(frame, field):
    """The values of a field in the order the records first name them, which is the order
    the config listed them (as `hamster table` and `hamster pivot` show them); numbers
    by value."""
    values = list(pd.unique(frame[field]))
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return sorted(values)
    return values


def reranker_colours(frame):
    """One colour per re-ranker label, the same in every figure of a results folder:
    stage 1 alone (`none`) in black, the others from tab10 (tab20 past ten) in config
    order."""
    labels = [r for r in order(frame, "reranker_label") if r != BASELINE]
    palette = plt.cm.tab10 if len(labels) <= 10 else plt.cm.tab20
    colours = {r: palette(i % palette.N) for i, r in enumerate(labels)}
    colours[BASELINE] = BASELINE_COLOUR
    return colours


def pareto_front(times, scores):
    """Indices of the points no other point beats: none at most as slow and strictly more
    accurate, or strictly faster and at least as accurate. Sorted by time."""
    ranked = sorted(range(len(times)), key=lambda i: (times[i], -scores[i]))
    front, best = [], float("-inf")
    for i in ranked:
        if scores[i] > best:
            front.append(i)
            best = scores[i]
    return front


def provenance(frame):
    """Where the records came from: for each provenance field, its distinct values (the
    timestamps as their first and last)."""
    out = {}
    for k in PROVENANCE:
        column = f"prov:{k}"
        if column not in frame:
            continue
        values = [v for v in pd.unique(frame[column]) if v is not None and v == v]
        if k == "timestamp" and values:
            values = sorted(str(v) for v in values)
            values = [values[0]] if len(values) == 1 else [values[0], values[-1]]
        out[k] = values
    return out


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
    table = text.unstack(list(cols)) if cols else text.to_frame(metric)
    # Rows and columns in config order (groupby sorts them by name).
    if len(rows) == 1:
        table = table.reindex(order(frame, rows[0]))
    else:
        wanted = pd.MultiIndex.from_product([order(frame, f) for f in rows])
        table = table.reindex([k for k in wanted if k in table.index])
    if cols and len(cols) == 1:
        table = table[order(frame, cols[0])]
    return table


STYLES = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1)), "v"), ((0, (1, 3)), "P")]


def _save(fig, out, name, legend_ax):
    """Writes fig as out/name.png and .svg, with legend_ax's legend outside on the right."""
    legend_ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.02, 1))
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
    colours, hashers = reranker_colours(frame), order(frame, "hasher_label")
    rank = {f: {v: i for i, v in enumerate(order(frame, f))} for f in fields}
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        stats = frame.groupby(fields + ["bits"])[metric].agg(["mean", "std"]).reset_index()
        series = sorted(stats.groupby(fields), key=lambda kv: [rank[f][v] for f, v in
                                                               zip(fields, kv[0])])
        # Colour by re-ranker (as in every figure), line style and marker by hasher.
        for key, s in series:
            h = hashers.index(key[0]) % len(STYLES)
            ax.errorbar(s["bits"], s["mean"], yerr=s["std"].fillna(0), capsize=3,
                        color=colours[key[1]], linestyle=STYLES[h][0], marker=STYLES[h][1],
                        label=_series_name(key, fields))
        ax.set_xlabel("bits")
        ax.set_ylabel(metric + " (mean ± std over seeds)")
        ax.set_xticks(sorted(frame["bits"].unique()))
        ax.grid(alpha=0.3)
    _save(fig, out, "map_vs_bits", axes[0][-1])
    return fig


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
    ax.grid(alpha=0.3)
    _save(fig, out, "pr_curves", ax)
    return fig


def plot_p_at_k(frame, out):
    """One panel per hasher; in each, a line per re-ranker (its colour) and code length
    (line style), mean over seeds."""
    ks = sorted(int(c[2:]) for c in frame.columns if c.startswith("P@") and c[2:].isdigit())
    if not ks:
        return None
    hashers, bits = order(frame, "hasher_label"), order(frame, "bits")
    colours, rerankers = reranker_colours(frame), order(frame, "reranker_label")
    fig, axes = plt.subplots(1, len(hashers), figsize=(4.5 * len(hashers), 4), squeeze=False,
                             sharey=True)
    means = frame.groupby(["hasher_label", "bits", "reranker_label"])[[f"P@{k}" for k in ks]].mean()
    for ax, hasher in zip(axes[0], hashers):
        for b in bits:
            for reranker in rerankers:
                if (hasher, b, reranker) not in means.index:
                    continue
                style = STYLES[bits.index(b) % len(STYLES)]
                ax.plot(ks, means.loc[(hasher, b, reranker)].values, color=colours[reranker],
                        linestyle=style[0], marker=style[1], label=f"{reranker} {b}b")
        ax.set_title(hasher)
        ax.set_xlabel("k")
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("P@k (mean over seeds)")
    _save(fig, out, "p_at_k", axes[0][-1])
    return fig


def plot_map_vs_time(frame, out, metric="mAP@1000"):
    """Accuracy against re-rank latency (the ann-benchmarks view): re-rankers on a log time
    axis with the Pareto frontier of all points; stage 1 alone (`none`, no re-rank time)
    in a strip of its own on the left, with the same accuracy axis."""
    if metric not in frame:
        metric = "mAP@all"
    fields = ["hasher_label", "bits", "reranker_label"]
    agg = frame.groupby(fields, sort=False)[[metric, "time:rerank_us_per_query"]].mean()
    agg = agg.reset_index()
    agg["ms"] = agg["time:rerank_us_per_query"] / 1000
    colours = reranker_colours(frame)
    builds = [(h, b) for h in order(frame, "hasher_label") for b in order(frame, "bits")]
    markers = {k: STYLES[i % len(STYLES)][1] for i, k in enumerate(builds)}
    base, reranked = agg[agg["reranker_label"] == BASELINE], agg[agg["reranker_label"] != BASELINE]
    fig, (left, ax) = plt.subplots(1, 2, figsize=(6.5, 4), sharey=True,
                                   gridspec_kw={"width_ratios": [1, 6], "wspace": 0.05})
    for _, r in base.iterrows():
        left.scatter([0], [r[metric]], color=BASELINE_COLOUR,
                     marker=markers[(r["hasher_label"], r["bits"])])
    left.set_xticks([0], [BASELINE])
    left.set_xlim(-1, 1)
    left.set_ylabel(metric)
    left.set_title("stage 1", fontsize=8)
    left.grid(alpha=0.3)
    for reranker in order(reranked, "reranker_label") if len(reranked) else []:
        s = reranked[reranked["reranker_label"] == reranker]
        for _, r in s.iterrows():
            ax.scatter([r["ms"]], [r[metric]], color=colours[reranker],
                       marker=markers[(r["hasher_label"], r["bits"])])
        ax.scatter([], [], color=colours[reranker], label=reranker)
    for key, marker in markers.items():
        if ((agg["hasher_label"] == key[0]) & (agg["bits"] == key[1])).any():
            ax.scatter([], [], color="grey", marker=marker, label=f"{key[0]} {key[1]}b")
    if len(reranked):
        front = pareto_front(list(reranked["ms"]), list(reranked[metric]))
        points = reranked.iloc[front]
        # Held out to the slowest point: the best accuracy within each time budget.
        xs = list(points["ms"]) + [reranked["ms"].max()]
        ys = list(points[metric]) + [points[metric].iloc[-1]]
        ax.step(xs, ys, where="post", color="grey", linewidth=1, zorder=0,
                label="Pareto frontier")
        ax.set_xscale("log")
    ax.set_xlabel("re-rank ms per query")
    ax.grid(alpha=0.3)
    _save(fig, out, "map_vs_time", ax)
    return fig


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
