#!/usr/bin/env bash
# Re-runs the CPU benchmarks behind the docs' tables, each into its log under docs/benchmarks/cpu/
# (bench/log_run.sh). About 90 minutes on the 2-core VM; run it on a quiet machine (the figures are
# the machine's as much as the code's), then put each log's table into its docs page
# (docs/benchmarks/README.md lists which). One command at a time, in this order; pass names to run
# only some: bash bench/rerun_cpu_logs.sh load_test inference_latency
set -uo pipefail
cd "$(dirname "$0")/.."
L=docs/benchmarks/cpu
declare -A RUNS=(
  [load_test]="python -m pytest -s -q -p no:cacheprovider tests/test_load.py"
  [inference_latency]="python bench/inference_latency.py"
  [cpu_modes]="python bench/cpu_modes.py"
  [stream_overhead]="python bench/stream_overhead.py --repeats 4"
  [watch_overhead]="python bench/watch_overhead.py"
  [browser_idle]="python bench/browser_idle.py --tabs Train"
  [app_vs_cli]="python bench/app_vs_cli.py --repeats 3"
  [app_vs_cli_busy]="python bench/app_vs_cli.py --repeats 1 --busy-loop --threads adaptive,fixed"
  [teach_drawings]="python bench/teach_drawings.py"
  [teach_drawings_variants]="python bench/teach_drawings.py --variants all"
  [teach_photos_cat_dog]="python bench/teach_photos.py --task heldout --pair cat,dog --also 'fine-tune, classifier alone'"
  [teach_photos_horse_ship]="python bench/teach_photos.py --task heldout --pair horse,ship --also 'fine-tune, classifier alone'"
  [train_speed_mnist_seed0]="python bench/train_speed.py --recipes mnist_fast --baseline seed004 --baseline-epochs 4 --target 0.99 --seed 0"
  [train_speed_mnist_seed1]="python bench/train_speed.py --recipes mnist_fast --baseline seed004 --baseline-epochs 4 --target 0.99 --seed 1"
  [train_speed_mnist_seed2]="python bench/train_speed.py --recipes mnist_fast --baseline seed004 --baseline-epochs 4 --target 0.99 --seed 2"
  [train_speed_cifar]="python bench/train_speed.py --recipes cifar10_small --baseline seed004_simplecnn --target 0.85"
  [teach_photos_variants_cat_dog]="python bench/teach_photos.py --task heldout --pair cat,dog --variants all"
  [teach_photos_variants_horse_ship]="python bench/teach_photos.py --task heldout --pair horse,ship --variants all"
  [teach_photos_cifar_fast]="python bench/teach_photos.py --task cifar --also 'fine-tune, half then all layers, lr /3' --also 'fine-tune, half then all layers, lr /10'"
  [teach_photos_digits_fast]="python bench/teach_photos.py --task digits --also 'fine-tune, half then all layers, lr /3' --also 'fine-tune, half then all layers, lr /10'"
  [seed_results]="python bench/seed_results.py"
  [fresh_clone]="bash bench/fresh_clone.sh"
  [checkpoint_record]="python bench/checkpoint_record.py"
  [mnist_small]="python bench/mnist_widths.py mnist_small '{\"recipe\": \"mnist_small\", \"epochs\": 0.9}' --seeds 0 1 2"
  [mnist_small_seeds345]="python bench/mnist_widths.py mnist_small --seeds 3 4 5"
  [cli_default_mnist_small]="python -m cnn.train --dataset mnist --quiet --out .scratch/cli_default_small.safetensors"
  [cli_mnist_fast_after_small]="python -m cnn.train --dataset mnist --recipe mnist_fast --quiet --out .scratch/cli_fast.safetensors"
)
ORDER=(load_test inference_latency cpu_modes stream_overhead watch_overhead browser_idle app_vs_cli app_vs_cli_busy
  teach_drawings teach_drawings_variants teach_photos_cat_dog teach_photos_horse_ship
  teach_photos_variants_cat_dog teach_photos_variants_horse_ship teach_photos_cifar_fast teach_photos_digits_fast
  train_speed_mnist_seed0 train_speed_mnist_seed1 train_speed_mnist_seed2 train_speed_cifar seed_results
  fresh_clone checkpoint_record mnist_small mnist_small_seeds345 cli_default_mnist_small cli_mnist_fast_after_small)
[ "$#" -gt 0 ] && ORDER=("$@")
for name in "${ORDER[@]}"; do
  echo "== $name: ${RUNS[$name]}"
  eval "bash bench/log_run.sh $L/$name.log ${RUNS[$name]}" || echo "(exit status $?: see $L/$name.log)"
  [ "$name" = load_test ] && cp .scratch/load-test.json "$L/load_test.json" 2>/dev/null
done
