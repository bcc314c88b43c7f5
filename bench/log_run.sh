#!/usr/bin/env bash
# Runs one benchmark command and keeps its whole output as a log for the docs:
#   bash bench/log_run.sh docs/benchmarks/cpu/NAME.log python bench/SCRIPT.py ARGS...
# The log starts with the command, the commit, the date and the load average, and ends with the
# load average and the exit status, so that a figure in the docs can name its command and its log.
set -uo pipefail
log="$1"; shift
mkdir -p "$(dirname "$log")"
# (whether the tree has changes is read before the log is written: the log itself is not a change)
commit="$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet -- . ":(exclude)$log" 2>/dev/null || echo ' (with uncommitted changes)')"
{
  echo "# command: $*"
  echo "# commit: $commit"
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  # (the vector extensions too: two VMs both named "AMD EPYC" trained MNIST 2x apart, AVX-512 with bf16 against AVX2)
  isa="$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx2|avx512f|avx512_bf16|amx_bf16' | xargs)"
  echo "# machine: $(nproc) CPU cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) (${isa:-no AVX2})"
} >"$log"
"$@" 2>&1 | tee -a "$log"
rc=${PIPESTATUS[0]}
echo "# exit status: $rc; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$log"
exit "$rc"
