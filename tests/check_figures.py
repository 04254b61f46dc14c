"""Checks the figures of notebooks/hamster_results.py on a real results folder whose config
lists its re-rankers out of alphabetical order (tests/configs/notebook.yaml: none,
feature, alpha_qe): every figure keeps that order, gives each re-ranker the same colour,
draws P@k one panel per hasher and keeps `none` apart from the re-rank time axis; and the
Pareto frontier on points worked by hand.

    /usr/bin/python3 tests/check_figures.py NOTEBOOKS_DIR RESULTS_DIR OUT_DIR
"""
import os
import sys

sys.path.insert(0, sys.argv[1])
import hamster_results as hr  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

results, out = sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
CONFIG_ORDER = ["none", "feature", "alpha_qe"]


def fail(message):
    sys.exit("check_figures: " + message)


# The frontier: (time, score) points; 2 is slower and worse than 1, 3 ties 0's time but
# scores more, 4 is the slowest and the best.
times, scores = [1.0, 2.0, 3.0, 1.0, 9.0], [0.5, 0.7, 0.6, 0.6, 0.8]
front = hr.pareto_front(times, scores)
if front != [3, 1, 4]:
    fail(f"pareto_front gave {front}, expected [3, 1, 4]")

frame = hr.load(results)
if hr.order(frame, "reranker_label") != CONFIG_ORDER:
    fail(f"re-ranker order {hr.order(frame, 'reranker_label')}, expected {CONFIG_ORDER}")
if list(hr.pivot(frame).columns) != CONFIG_ORDER:
    fail(f"pivot columns {list(hr.pivot(frame).columns)}, expected {CONFIG_ORDER}")
colours = {k: to_hex(v) for k, v in hr.reranker_colours(frame).items()}
if colours["none"] != "#000000" or len(set(colours.values())) != len(colours):
    fail(f"colours {colours}: none must be black and each re-ranker its own")


def reranker_of(label):
    """The re-ranker a legend label names: "lsh | feature" (map_vs_bits), "feature 16b"
    (p_at_k), "feature" (map_vs_time)."""
    return label.split(" | ")[-1] if " | " in label else label.split()[0]


def colour_of(handle):
    if isinstance(handle, ErrorbarContainer):
        handle = handle.lines[0]
    if hasattr(handle, "get_facecolor") and not hasattr(handle, "get_color"):
        return to_hex(handle.get_facecolor()[0])  # a scatter's points
    return to_hex(handle.get_color())


def check_figure(name, ax, expect):
    listed, seen = [], {}
    for handle, label in zip(*ax.get_legend_handles_labels()):
        reranker = reranker_of(label)
        if reranker not in CONFIG_ORDER:
            continue
        if reranker not in listed:
            listed.append(reranker)
        seen.setdefault(reranker, set()).add(colour_of(handle))
    if listed != expect:
        fail(f"{name}: legend lists {listed}, expected the config's order {expect}")
    for reranker, found in seen.items():
        if found != {colours[reranker]}:
            fail(f"{name}: {reranker} drawn in {sorted(found)}, expected {colours[reranker]}")


bits_fig = hr.plot_map_vs_bits(frame, out)
check_figure("map_vs_bits", bits_fig.axes[-1], CONFIG_ORDER)
p_fig = hr.plot_p_at_k(frame, out)
panels = [ax for ax in p_fig.axes if ax.get_title()]
if [ax.get_title() for ax in panels] != hr.order(frame, "hasher_label"):
    fail(f"p_at_k panels {[ax.get_title() for ax in panels]}, expected one per hasher")
check_figure("p_at_k", panels[-1], CONFIG_ORDER)
time_fig = hr.plot_map_vs_time(frame, out)
strip, main = time_fig.axes[0], time_fig.axes[1]
if [t.get_text() for t in strip.get_xticklabels()] != ["none"]:
    fail("map_vs_time: no strip of its own for none")
check_figure("map_vs_time", main, ["feature", "alpha_qe"])
if "Pareto frontier" not in main.get_legend_handles_labels()[1]:
    fail("map_vs_time: no Pareto frontier")
if main.get_xscale() != "log" or min(c.get_offsets()[:, 0].min() for c in main.collections
                                      if len(c.get_offsets())) <= 0:
    fail("map_vs_time: re-rank times must sit on a log axis, none kept off it")
print(f"figures: config order {CONFIG_ORDER}, one colour each {colours}, P@k per hasher, "
      "none apart, Pareto frontier")
