#!/usr/bin/env bash
# Makes a small real results folder (tests/configs/notebook.yaml: LSH on fmnist-1, 2 bit
# lengths x 2 seeds x 3 re-rankers), then:
#  - draws a retrieval grid with notebooks/retrieval_grid.py and checks it shows images
#    framed in green and in red;
#  - writes the HTML report with `hamster report`, checks it is self-contained (no
#    external reference) and holds the tables (in the config's order), the provenance
#    block, figures and grids, renders it in headless Chromium and checks the screenshot
#    is not blank;
#  - checks the figures themselves (tests/check_figures.py).
# Usage: tests/check_report.sh HAMSTER_BINARY SOURCE_DIR WORK_DIR
set -euo pipefail
hamster=$1 src=$2 work=$3
python=/usr/bin/python3
rm -rf "$work" && mkdir -p "$work"
cd "$work"
"$hamster" run "$src/tests/configs/notebook.yaml" > run.log 2>&1 || { cat run.log; exit 1; }
results="$work/results/notebook"

"$python" "$src/notebooks/retrieval_grid.py" "$results" --cell lsh/32b/seed1/feature \
  --baseline-reranker none --queries 4 --seed 3 --out "$work/grid.png" --hamster "$hamster"
"$python" - "$work/grid.png" <<'PY'
import sys
import matplotlib.image as mpimg
import numpy as np
img = mpimg.imread(sys.argv[1])[..., :3]
green = np.all(np.abs(img - [0, 0xa0 / 255, 0]) < 0.08, axis=-1).sum()
red = np.all(np.abs(img - [0xd0 / 255, 0, 0]) < 0.08, axis=-1).sum()
print(f"grid {img.shape[1]}x{img.shape[0]}: {green} green and {red} red frame pixels")
if green < 200 or red < 200:
    sys.exit("the grid lacks green or red frames")
PY

"$hamster" report "$results" --out "$work/report.html" > report.log 2>&1 || { cat report.log; exit 1; }
page="$work/report.html"
if grep -Eq 'https?://|src="file|href="file|src="/|@import|url\(' "$page"; then
  echo "report.html refers to something outside itself:"
  grep -Eo '.{30}(https?://|src="file|href="file|src="/|@import|url\().{30}' "$page" | head
  exit 1
fi
for text in "<h3>mAP@all</h3>" "<h3>mAP@100</h3>" "Every cell" "Retrieval grids" \
  "mAP against code length" "lsh/32b/seed0/feature against"; do
  grep -qF "$text" "$page" || { echo "report.html lacks '$text'"; exit 1; }
done
# The config's order (none, feature, alpha_qe: not alphabetical) in the ablation tables.
grep -qF "<th>hasher</th><th>bits</th><th>none</th><th>feature</th><th>alpha_qe</th>" "$page" \
  || { echo "report.html: the ablation table does not keep the config's re-ranker order"; exit 1; }
# Provenance: the commit and CPU the records name, on the page.
sha=$(git -C "$src" rev-parse HEAD 2> /dev/null || echo unknown)
cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n 1)
for text in 'id="provenance"' "<th>git commit</th><td>$sha</td>" "<th>CPU</th><td>${cpu:-unknown}" \
  "<th>config hash</th><td>" "<th>run at</th><td>20"; do
  grep -qF "$text" "$page" || { echo "report.html: provenance lacks '$text'"; exit 1; }
done
# Every figure: the config's order, one colour per re-ranker, P@k per hasher, none apart.
"$python" "$src/tests/check_figures.py" "$src/notebooks" "$results" "$work/figures"
images=$(grep -o 'src="data:image/png;base64,' "$page" | wc -l)
[[ $images -ge 5 ]] || { echo "report.html holds $images images, expected >= 5"; exit 1; }

# A fresh profile folder: Chromium must not touch the user's.
chromium --headless --disable-gpu --no-sandbox --user-data-dir="$work/chromium-profile" \
  --screenshot="$work/report.png" --window-size=1200,1600 "file://$page" > chromium.log 2>&1 || true
[[ -s "$work/report.png" ]] || { echo "chromium wrote no screenshot"; cat chromium.log; exit 1; }
"$python" - "$work/report.png" <<'PY'
import sys
import matplotlib.image as mpimg
import numpy as np
img = mpimg.imread(sys.argv[1])[..., :3]
non_white = float(np.mean(np.any(img < 0.95, axis=-1)))
colours = len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0))
print(f"screenshot {img.shape[1]}x{img.shape[0]}: {non_white:.1%} non-white, {colours} colours")
if non_white < 0.03 or colours < 20:
    sys.exit("the rendered report looks blank")
PY
echo "report: grid framed, page self-contained with $images images, rendered non-blank"
