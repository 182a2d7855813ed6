#!/usr/bin/env bash
# Fuzz the untrusted-input readers and the settings space (cargo-fuzz,
# libFuzzer) for a set time each and keep every new crash as a regression file.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; TARGETs default to all four:
#   onnx_import    the model-file scan (with and without records) and
#                  strip_metadata, then onnx::load, the model summary and
#                  one forward pass
#   csv_reader     data::read_csv (default, label column, small limit),
#                  Dataset::to_batch, CsvStream, and CsvPushParser (the
#                  page's streaming reader) asserted equal to read_csv
#   report_reader  report::read_json, then report::html::render
#   settings       the settings space in its JSON form (every settings
#                  struct through serde and its validate) and its CLI form
#                  (typed values through every declared range, input shapes,
#                  attack lists); accepted values lie in their ranges
# (fuzz/harness.rs holds what each runs; tests/fuzz_regressions.rs runs the
# kept files through the same functions in the stable test suite).
#
# Steps per target:
# 1. seed fuzz/corpus/<target>/ from tests/fixtures (models, CSVs, golden
#    reports), fuzz/seeds/report_reader (small reports of every kind, made
#    by fuzz/seeds/make_report_seeds.sh) and the regression files; the
#    corpus grows across runs and is not committed (the seeds are);
# 2. run libFuzzer for SECONDS_PER_TARGET (one job, -rss_limit_mb=2048,
#    -timeout=10 s per input, fuzz/<target>.dict as dictionary if present);
# 3. copy new crash-/oom-/timeout- inputs to tests/fuzz_regressions/<target>/
#    and append "date target seconds executions crashes" to
#    fuzz/runs.log (committed: the figures for the issue note).
#
# Needs the nightly toolchain and cargo-fuzz (installed here when missing).
# Env: FUZZ_TARGET_DIR (default $CARGO_TARGET_DIR/fuzz or fuzz/target),
# FUZZ_NICE (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

secs=${1:-60}
[[ $# -gt 0 ]] && shift
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(onnx_import csv_reader report_reader settings)

if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null; then
    cargo install cargo-fuzz --version 0.13.2
fi
target_dir=${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/fuzz}}
target_dir=${target_dir:-$root/fuzz/target}
nice_level=${FUZZ_NICE:-10}

# Seed files: fixtures small enough to mutate quickly.
seeds() {
    case "$1" in
    onnx_import)
        find tests/fixtures -name '*.onnx' -size -20k
        ;;
    csv_reader)
        find tests/fixtures -name '*.csv' -size -8k
        ;;
    report_reader)
        find tests/fixtures/golden fuzz/seeds/report_reader -name '*.json' 2>/dev/null || true
        ;;
    settings)
        find fuzz/seeds/settings -type f
        ;;
    esac
    find "tests/fuzz_regressions/$1" -type f ! -name .gitkeep 2>/dev/null || true
}

max_len() {
    case "$1" in
    onnx_import) echo 20480 ;;
    csv_reader) echo 8192 ;;
    report_reader) echo 262144 ;;
    settings) echo 4096 ;;
    esac
}

for t in "${targets[@]}"; do
    corpus=fuzz/corpus/$t
    artifacts=fuzz/artifacts/$t
    regress=tests/fuzz_regressions/$t
    mkdir -p "$corpus" "$artifacts" "$regress"
    while read -r f; do
        [[ -n $f ]] && cp -n "$f" "$corpus/seed-$(basename "$f")"
    done < <(seeds "$t")
    dict=()
    [[ -f fuzz/$t.dict ]] && dict=(-dict="fuzz/$t.dict")
    log=$(mktemp)
    echo "== fuzzing $t for ${secs}s (corpus: $(ls "$corpus" | wc -l) files)"
    start=$SECONDS
    set +e
    nice -n "$nice_level" cargo +nightly fuzz run --fuzz-dir fuzz --codegen-units 16 \
        --target-dir "$target_dir" "$t" "$corpus" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len="$(max_len "$t")" \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" 2>&1 | tee "$log" | grep -E '^(#[0-9]+.*(INITED|DONE)|==[0-9]+==|SUMMARY|stat::)' || true
    set -e
    # final stats on a clean exit; after a crash, the last status line
    execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' ||
        grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || echo 0)
    crashes=0
    for f in "$artifacts"/crash-* "$artifacts"/oom-* "$artifacts"/timeout-* "$artifacts"/leak-*; do
        [[ -e $f ]] || continue
        if [[ ! -e $regress/$(basename "$f") ]]; then
            cp "$f" "$regress/"
            crashes=$((crashes + 1))
            echo "new crash input: $regress/$(basename "$f")"
        fi
    done
    # libFuzzer stops at the first crash, so the time run can be shorter
    # than asked (it includes the build when one was needed)
    echo "$(date -u +%FT%TZ) $t ${secs}s ran=$((SECONDS - start))s executions=$execs new_crashes=$crashes" | tee -a fuzz/runs.log
    rm -f "$log"
done
