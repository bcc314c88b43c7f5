#!/usr/bin/env bash
# Every GPU figure in docs/performance-gpu.md, in one go:
#   bash bench/gpu_all.sh AIRBENCH_DATA OUT [SECTIONS]
# AIRBENCH_DATA holds cifar10/{train,test}.pt for airbench; $CNN_DATA_DIR holds the same images for
# the engine (cifar10/{train,test}/<class>/*) and MNIST/raw. SECTIONS: mnist,cifar,cli (default all).
set -u
AB=$1; OUT=$2; SECTIONS=${3:-mnist,cifar,cli}
mkdir -p "$OUT"
python3 bench/gpu_speed.py --airbench-data "$AB" --runs 5 --out "$OUT" --sections "$SECTIONS" \
  --mnist mnist_fast "mnist_fast:epochs=0.6" \
  --cifar cifar10_fast "cifar10_fast:cuda_dtype=bf16" "cifar10_fast:cuda_dtype=bf16,epochs=10.4" \
  --cli "cold start=python3 bench/cold_start.py --recipe cifar10_fast" \
        "cold start, launch warm-up=python3 bench/cold_start.py --recipe cifar10_fast --warm-up" \
        "cold start MNIST=python3 bench/cold_start.py --recipe mnist_fast" \
        "cold start MNIST, launch warm-up=python3 bench/cold_start.py --recipe mnist_fast --warm-up" \
        "CLI cifar10_fast=--recipe cifar10_fast --final-eval-only --out $OUT/cifar10_fast.safetensors" \
        "cifar10_best=--recipe cifar10_best --final-eval-only --out $OUT/cifar10.safetensors" \
        "seed004_simplecnn=--recipe seed004_simplecnn --out /tmp/seed004_simplecnn.safetensors" \
        "seed001=--recipe seed001 --out /tmp/seed001.safetensors" \
        "torchrun (NCCL, SyncBatchNorm)=torchrun --nproc_per_node=1 -m cnn.train --quiet --recipe cifar10_fast --epochs 2 --out /tmp/ddp.safetensors"
if [ -f "$OUT/cifar10.safetensors" ]; then
  python3 -m cnn.evaluate "$OUT/cifar10.safetensors" | tail -2
fi
