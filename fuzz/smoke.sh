#!/usr/bin/env bash
# Fuzz smoke run: every target for SECONDS (default 30), from fuzz/corpus/.
# With FUZZ_RUNS=N set, each target instead runs exactly N inputs from a fixed
# seed: deterministic, as CI needs.
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). The machine has a
# stable toolchain only; RUSTC_BOOTSTRAP=1 lets it take the sanitizer flags.
# New corpus entries are written to a scratch copy, so the run leaves the
# committed corpus unchanged; crashes land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O >/dev/null
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
status=0
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t"
  cp -r "corpus/$t/." "$scratch/$t/" 2>/dev/null || true
  if [ -n "${FUZZ_RUNS:-}" ]; then
    limit=(-runs="$FUZZ_RUNS" -seed=1)
    echo "== $t ($FUZZ_RUNS runs, seed 1)"
  else
    limit=(-max_total_time="$seconds")
    echo "== $t (${seconds}s)"
  fi
  if ! cargo fuzz run -O "$t" "$scratch/$t" -- "${limit[@]}" -max_len=65536 -print_final_stats=1 \
      2>"$scratch/$t.log"; then
    echo "FAILED: $t (see fuzz/artifacts/$t and the log below)"
    tail -40 "$scratch/$t.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$scratch/$t.log" | tail -2
  fi
done
exit $status
