#!/usr/bin/env bash
# The first CLI runs in a fresh clone (issue 18 saw the first one 3x slower than later ones):
# clones this checkout's HEAD into a temporary folder with an empty cache, then times three
# `python -m cnn.train --recipe mnist_fast` runs there, one after another, printing each run's
# wall time and its last lines (arithmetic, images/s, accuracy).
#   bash bench/fresh_clone.sh        (uses the python on PATH; about 2 minutes on the 2-core VM)
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
git clone -q "$src" "$tmp/clone"
cd "$tmp/clone"
export CNN_CACHE_DIR="$tmp/cache" PYTHONPATH="$tmp/clone"
echo "fresh clone of $(git rev-parse --short HEAD) in a temporary folder; CNN_CACHE_DIR empty"
for n in 1 2 3; do
  t0=$EPOCHREALTIME
  python -m cnn.train --recipe mnist_fast --device cpu --out "$tmp/x$n.safetensors" 2>&1 | tr '\r' '\n' | grep -v '^\s*$' | tail -4
  t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "run %d: %.1f s wall\n", n, b - a }'
done
