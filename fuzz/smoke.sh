#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation on the stable toolchain
# (RUSTC_BOOTSTRAP=1, what cargo-fuzz does on nightly) and runs each for a short time.
#
#   fuzz/smoke.sh [SECONDS]          # default 15 s per target (CI)
#   fuzz/smoke.sh 600                # a real run: 10 minutes per target
#
# With cargo-fuzz installed, `cargo +stable fuzz run <target>` works too (RUSTC_BOOTSTRAP=1).
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-15}
export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
# An explicit --target keeps the instrumentation off build scripts and proc macros.
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --locked --bins -q --target "$host"
for target in load_bytes load_structured evaluate c_abi; do
  corpus=$(mktemp -d)
  echo "== $target ($secs s)"
  ./target/"$host"/release/$target -max_total_time="$secs" -max_len=65536 -print_final_stats=1 \
    "$corpus" "seeds/$target" 2>&1 | grep -E 'stat::number_of_executed_units|stat::peak_rss|cov:|ERROR|panicked|SUMMARY' | tail -4
  rm -rf "$corpus"
done
