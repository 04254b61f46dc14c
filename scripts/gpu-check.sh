#!/usr/bin/env bash
# Run on a GPU machine that has a CUDA PyTorch, a C++ compiler and CMake but no apt, after
# scripts/gpu-kit.sh filled .gpu-kit/ on a Debian machine. Unpacks the kit, builds the
# hamster binary against python3's LibTorch, and trains DPSH at 32 bits on fmnist-1 with
# hashers.yaml's budget (vgg-bn, 120 epochs, DPSH's overrides) on `device: cuda`, so the
# result can be set beside the same fit on the CPU (docs/results.md, "Every hasher on vgg-bn").
#   scripts/gpu-check.sh [OUTDIR]     # results and logs go to OUTDIR (default gpu-check)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-gpu-check}")
kit=/tmp/hamster-gpu-kit
mkdir -p "$out"
[[ -d .gpu-kit ]] || { echo "gpu-check: no .gpu-kit/ (run scripts/gpu-kit.sh on Debian first)"; exit 1; }

rm -rf "$kit" && mkdir -p "$kit"
for deb in .gpu-kit/*.deb; do
  if command -v dpkg-deb > /dev/null; then
    dpkg-deb -x "$deb" "$kit"
  else  # a .deb is an ar archive; Debian 12 packs its files as data.tar.xz
    ar p "$deb" data.tar.xz | tar -xJ -C "$kit"
  fi
done
lib=$kit/usr/lib/x86_64-linux-gnu
# zlib1g-dev's libz.so points at /lib/...; use this machine's own zlib runtime.
if [[ ! -e $lib/libz.so ]]; then
  system_z=$(ldconfig -p | awk '/libz\.so\.1 .*x86-64/ {print $NF; exit}')
  ln -sf "$system_z" "$lib/libz.so"
fi
export CMAKE_PREFIX_PATH=$kit/usr
export LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# LibTorch: python3's PyTorch (CUDA when it has it), or HAMSTER_TORCH_PREFIX (a folder on
# whose CMake path TorchConfig.cmake lies) where python3 has none.
if [[ -z "${HAMSTER_TORCH_PREFIX:-}" ]]; then
  python3 -c 'import torch; print("gpu-check: torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-", "cxx11 abi", torch._C._GLIBCXX_USE_CXX11_ABI)' | tee "$out/torch.txt"
fi
torch_prefix=${HAMSTER_TORCH_PREFIX:-$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')}
start=$(date +%s)
cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DHAMSTER_BUILD_TESTS=OFF \
  -DHAMSTER_BUILD_BENCH=OFF -DCMAKE_PREFIX_PATH="$kit/usr;$torch_prefix" > "$out/build.log" 2>&1
cmake --build build-gpu -j "$(nproc)" --target hamster >> "$out/build.log" 2>&1 ||
  { grep -E -A5 "error" "$out/build.log" | head -n 60; exit 1; }
echo "gpu-check: built in $(($(date +%s) - start)) s"

# hashers.yaml itself, so the GPU fit has exactly its budget and DPSH's overrides: only
# fmnist-1 (read from the kit), 32 bits, DPSH on `device: cuda`, results under OUTDIR.
sed -e 's/^name: hashers$/name: gpu-check/' \
    -e "s|^  - {name: fashion-mnist, protocol: fmnist-1}|  - {name: fashion-mnist, protocol: fmnist-1, path: $kit/usr/share/datasets/fashion-mnist}|" \
    -e '/^  - {name: fmnist-mosaic/d' \
    -e 's/^bits: .*/bits: [32]/' \
    -e "s|^shortlist:|output: $out/results\nshortlist:|" \
    -e '/^  - name: dpsh$/{n;s/params: {/params: {device: cuda, /}' \
    experiments/configs/hashers.yaml > "$out/gpu-check.yaml"
if ! grep -q "path: $kit" "$out/gpu-check.yaml" || ! grep -q "device: cuda" "$out/gpu-check.yaml" ||
   grep -v "^#" "$out/gpu-check.yaml" | grep -q "fmnist-mosaic"; then
  echo "gpu-check: hashers.yaml no longer has the lines this script rewrites; update its sed"
  exit 1
fi
# The log keeps every epoch; the screen gets the lines with a validation mAP and the table.
set +e
build-gpu/experiments/hamster run "$out/gpu-check.yaml" --filter hasher=dpsh > "$out/run.log" 2>&1
rc=$?
set -e
grep -v -E "loss [0-9.]+  [0-9.]+s  ETA" "$out/run.log" | tail -n 40
exit $rc
