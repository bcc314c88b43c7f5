#!/usr/bin/env bash
# Builds, here (no GPU), what a GPU session carries to the lent device machine for
# bench/gpu_all.sh, and prints the calls to make. From the repository root:
#   bash bench/device_payload.sh [SHARED_DIR]        (default ../shared)
# A call carries at most 64 MiB, so lossless CIFAR-10 goes over in three parts (one per call,
# the machine staying warm between them); bench/device_unpack.sh unpacks each on arrival.
set -euo pipefail
SHARED=$(cd "${1:-../shared}" && pwd)
rm -rf .devdata .devmnist .whl
python3 "$SHARED/tools/device_pack.py" pack cifar10 .devdata          # .devdata/p0, p1, p2
mkdir -p .devmnist/MNIST/raw                                           # MNIST, gzipped (11 MiB)
for f in "$SHARED"/data/MNIST/raw/*-ubyte; do gzip -c "$f" > ".devmnist/MNIST/raw/$(basename "$f").gz"; done
# The baseline, airbench94: PyPI has only its sdist, so build the (pure-Python) wheel here;
# the device has torch and torchvision but reaches no registry.
python3 -m pip wheel -q --no-deps -w .whl airbench==0.1.8
du -sh .devdata/p* .devmnist .whl
cat <<'CALLS'
Device calls (each a `run` with this carry), in order:
  1. carry [".devdata/p0"]:  bash bench/device_unpack.sh
  2. carry [".devdata/p1"]:  bash bench/device_unpack.sh
  3. carry [".devdata/p2", ".devmnist", ".whl"]:
       source bench/device_unpack.sh && bash bench/gpu_all.sh .devcache $OUT mnist,cifar
  then, on the same warm machine:  source bench/device_unpack.sh && bash bench/gpu_all.sh .devcache $OUT cli
CALLS
