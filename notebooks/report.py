"""One self-contained HTML page for a results folder: tables, figures, retrieval grids.

    /usr/bin/python3 notebooks/report.py RESULTS_DIR [--out report.html] [--grids 3]
        [--hamster build/experiments/hamster]

(`hamster report RESULTS_DIR` runs this.) The page holds the ablation tables (each mAP
metric, hasher x bits against re-ranker, mean ± std over seeds, best of each row in
bold), the records' provenance (commit, config hash, time, CPU), every cell's numbers,
the figures of hamster_results.py (mAP against code length, PR curves, P@k per hasher,
accuracy against re-rank time with its Pareto frontier; the config's order and one colour
per re-ranker throughout) and retrieval grids (retrieval_grid.py) for
a few cells against their build's `none` cell. CSS is inline and images are PNG data URIs,
so the file can be mailed or archived alone. Needs python3-numpy, python3-pandas and
python3-matplotlib (Debian packages).
"""
import argparse
import base64
import html
import os
import tempfile

import hamster_records
import hamster_results as hr
import retrieval_grid as rg

CSS = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1400px; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.85em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; }
th { background: #e8eef7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #f6f8fb; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
.note { color: #666; font-size: 0.85em; }
.wide { overflow-x: auto; }
"""

IDENTITY = ["hasher_label", "bits", "seed", "reranker_label", "shortlist"]
# (column, header, scale): re-rank time in ms per query, as `hamster table` prints it.
TIMES = [("time:train_seconds", "train s", 1), ("time:encode_images_per_second", "encode img/s", 1),
         ("time:rerank_us_per_query", "rerank ms/q", 1e-3)]
PROVENANCE_NAMES = {"git_sha": "git commit", "git_dirty": "uncommitted changes",
                    "config_hash": "config hash", "timestamp": "run at", "cpu_model": "CPU",
                    "host": "host", "threads": "threads", "versions": "versions"}


def png_data_uri(path):
    with open(path, "rb") as f:
        return "data:image/png;base64," + base64.b64encode(f.read()).decode("ascii")


def figure(path, caption):
    return (f'<figure><img alt="{html.escape(caption)}" src="{png_data_uri(path)}">'
            f"<figcaption class=\"note\">{html.escape(caption)}</figcaption></figure>")


def table_html(header, rows, numeric_from, bold=()):
    """rows: lists of strings; columns from `numeric_from` on are right-aligned; `bold` holds
    (row, column) pairs to mark."""
    # In a scrolling box: the table of every cell is wider than most windows.
    out = ['<div class="wide"><table><tr>' +
           "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>"]
    for i, row in enumerate(rows):
        cells = []
        for j, value in enumerate(row):
            text = html.escape(str(value))
            if (i, j) in bold:
                text = f"<b>{text}</b>"
            cells.append(f'<td class="num">{text}</td>' if j >= numeric_from else f"<td>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    return "\n".join(out + ["</table></div>"])


def pivot_html(frame, metric):
    """hasher x bits against re-ranker, mean ± std over seeds, best mean of each row bold."""
    try:
        text = hr.pivot(frame, metric=metric)
    except ValueError as e:
        return f'<p class="note">no table: {html.escape(str(e))}</p>'
    means = frame.groupby(["hasher_label", "bits", "reranker_label"])[metric].mean().unstack()
    header = ["hasher", "bits"] + list(text.columns)
    rows, bold = [], set()
    for i, (key, row) in enumerate(text.iterrows()):
        rows.append([key[0], key[1]] + ["" if isinstance(v, float) else v for v in row.values])
    # The best re-ranker of each hasher and length, as an ablation is read (and as
    # `hamster table --cols reranker` marks it).
    for i, key in enumerate(text.index):
        best = means.loc[key].idxmax()
        bold.add((i, list(text.columns).index(best) + 2))
    return table_html(header, rows, 1, bold)


def _number(value, form):
    return "" if value is None or value != value else form.format(value)  # NaN: blank


def cells_html(frame, metrics):
    header = ["hasher", "bits", "seed", "reranker", "L"] + metrics + [name for _, name, _ in TIMES]
    rows = []
    for _, r in frame.iterrows():
        row = [r[f] for f in IDENTITY]
        row += [_number(r.get(m), "{:.4f}") for m in metrics]
        row += [_number(None if r.get(k) is None else r.get(k) * scale, "{:.3g}")
                for k, _, scale in TIMES]
        rows.append(row)
    return table_html(header, rows, 1)


def provenance_html(frame):
    """Where the numbers came from, as every record states it: commit, config hash, when,
    on which CPU and host, with how many threads. A field with several values lists them
    all (a merged folder), so a mixed provenance is visible."""
    rows = []
    for key, values in hr.provenance(frame).items():
        if key == "timestamp" and len(values) == 2:
            text = f"{values[0]} to {values[1]}"
        else:
            text = ", ".join(("yes" if v else "no") if key == "git_dirty" else str(v)
                             for v in values)
        rows.append(f"<tr><th>{html.escape(PROVENANCE_NAMES[key])}</th>"
                    f"<td>{html.escape(text or 'not recorded')}</td></tr>")
    return '<table class="provenance" id="provenance">' + "".join(rows) + "</table>"


def grid_cells(frame, count, baseline="none"):
    """Up to `count` cells to draw against their build's baseline: per hasher, its longest
    code and first seed, the re-ranker with the best first mAP column."""
    maps = [c for c in frame.columns if c.startswith("mAP@")]
    chosen = []
    for hasher in sorted(frame["hasher_label"].unique()):
        f = frame[frame["hasher_label"] == hasher]
        f = f[(f["bits"] == f["bits"].max()) & (f["seed"] == f["seed"].min())]
        others = f[(f["reranker_label"] != baseline) & (f["reranker"] != baseline)]
        if len(others) == len(f) or others.empty:
            continue  # no baseline cell, or nothing but the baseline
        chosen.append(others.sort_values(maps[0], ascending=False).iloc[0]["cell"])
    return chosen[:count]


def metric_order(results_dir):
    """Every metric the records hold, in the order the records list them (metric_order)."""
    names = []
    for r in hamster_records.records(results_dir):
        names += [m for m in r.get("metric_order", []) if m not in names]
    return names


def build_report(results_dir, out, grids=3, hamster=None):
    frame = hr.load(results_dir)
    if frame["queries_from"].nunique() > 1:  # tuning records beside test records
        frame = frame[frame["queries_from"] == "test"]
    name = os.path.basename(os.path.normpath(results_dir))
    order = metric_order(results_dir)
    parts = [f"<h1>hamster results: {html.escape(name)}</h1>",
             f'<p class="note">{len(frame)} cells from {html.escape(os.path.abspath(results_dir))}'
             f"; mean ± std over seeds; the best mean of each row in bold.</p>",
             "<h2>Provenance</h2>" + provenance_html(frame)]
    with tempfile.TemporaryDirectory() as tmp:
        for protocol, part in frame.groupby("protocol", sort=False):
            metrics = [m for m in order if m in part and part[m].notna().any()]
            parts.append(f"<h2>Ablation tables: {html.escape(str(protocol))}</h2>")
            for metric in [m for m in metrics if m.startswith("mAP@")]:
                parts.append(f"<h3>{html.escape(metric)}</h3>" + pivot_html(part, metric))
            parts.append("<h2>Every cell</h2>" + cells_html(part, metrics))

        parts.append("<h2>Figures</h2>")
        hr.plot_map_vs_bits(frame, tmp)
        hr.plot_pr_curves(frame, tmp)
        hr.plot_p_at_k(frame, tmp)
        hr.plot_map_vs_time(frame, tmp)
        captions = {"map_vs_bits": "mAP against code length (mean ± std over seeds)",
                    "pr_curves": "Hamming-radius precision-recall curves, one per build",
                    "p_at_k": "P@k (mean over seeds), one panel per hasher",
                    "map_vs_time": "accuracy against re-rank time per query: stage 1 alone "
                                   "(none) on the left, the re-rankers' Pareto frontier in grey"}
        for stem, caption in captions.items():
            path = os.path.join(tmp, stem + ".png")
            if os.path.exists(path):
                parts.append(figure(path, caption))

        cells, drawn = grid_cells(frame, grids), 0
        if cells:
            parts.append("<h2>Retrieval grids</h2>")
        for i, cell in enumerate(cells):
            try:
                path = rg.make_grid(results_dir, cell, os.path.join(tmp, f"grid{i}.png"),
                                    hamster=hamster)
            except SystemExit as e:  # e.g. records written before raw results were stored
                parts.append(f'<p class="note">no grid for {html.escape(cell)}: '
                             f"{html.escape(str(e))}</p>")
                continue
            parts.append(figure(path, f"{cell} against its build's none cell: top 10 before "
                                      "and after re-ranking"))
            drawn += 1
    page = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>hamster: {html.escape(name)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")
    # Written beside the target and renamed: a reader never sees half a page.
    tmp_out = f"{out}.tmp.{os.getpid()}"
    with open(tmp_out, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp_out, out)
    return out, drawn


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results_dir")
    parser.add_argument("--out", default=None, help="default: RESULTS_DIR/report.html")
    parser.add_argument("--grids", type=int, default=3, help="retrieval grids (default 3)")
    parser.add_argument("--hamster", default=None, help="the hamster binary, for the grids' images")
    args = parser.parse_args()
    out = args.out or os.path.join(args.results_dir, "report.html")
    _, grids = build_report(args.results_dir, out, args.grids, args.hamster)
    print(f"report with {grids} retrieval grids: {out}")


if __name__ == "__main__":
    main()
