#!/usr/bin/env bash
# The test command (what .ci/run runs): setup, then every check in order,
# each timed. A stage that fails does not stop the others (stages that need
# the build are skipped when it failed); the last line is the tally
# "N passed, M failed" and the exit status is non-zero when anything failed.
#
#   stages: setup, fmt, clippy (native, all targets), clippy-wasm (the core
#   and the boundary on wasm32), native tests, wasm-bindgen tests in headless
#   Chromium, release web build, end-to-end test of that build in headless
#   Chromium, boundary grep, gzipped wasm size budget.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

names=(); results=(); times=()
passed=0; failed=0; skipped=0
log_dir="$(mktemp -d /tmp/pi-test.XXXXXX)"

stage() { # stage NAME COMMAND...
  local name="$1"; shift
  local t0 t1 rc
  echo
  echo "==> $name: $*"
  t0=$(date +%s%N)
  "$@" 2>&1 | tee "$log_dir/$name.log"
  rc=${PIPESTATUS[0]}
  t1=$(date +%s%N)
  names+=("$name"); local ds=$(( (t1 - t0) / 100000000 ))
  times+=("$((ds / 10)).$((ds % 10))")
  if [ "$rc" = 0 ]; then results+=(pass); passed=$((passed + 1)); else results+=("FAIL($rc)"); failed=$((failed + 1)); fi
  return "$rc"
}
skip() { names+=("$1"); results+=("skipped: $2"); times+=("-"); skipped=$((skipped + 1)); failed=$((failed + 1)); }

summary() {
  echo
  echo "==> summary (logs in $log_dir)"
  for i in "${!names[@]}"; do
    printf '  %-14s %-24s %8s s\n' "${names[$i]}" "${results[$i]}" "${times[$i]}"
  done
  echo "$passed passed, $failed failed"
}

if ! stage setup scripts/setup.sh; then
  summary; exit 1
fi
eval "$(python3 scripts/webcfg.py)"
export CHROMEDRIVER="$WEB_TOOLCHAIN_CHROMEDRIVER"
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-120}"

stage fmt cargo fmt --all --check
stage clippy cargo clippy --all-targets -- -D warnings
stage clippy-wasm cargo clippy --target "$WEB_TOOLCHAIN_RUST_TARGET" --lib --test wasm -- -D warnings
stage native-tests cargo test
stage wasm-tests cargo test --target "$WEB_TOOLCHAIN_RUST_TARGET" --test wasm

if stage build scripts/build-web.sh; then
  stage e2e node --test --test-reporter=spec tests/e2e/
else
  skip e2e "build failed"
fi

boundary_check() {
  local hits
  hits="$(grep -rnE 'wasm_bindgen|js_sys|web_sys' src | grep -v '^src/wasm.rs:' || true)"
  if [ -n "$hits" ]; then
    echo "only src/wasm.rs may use wasm_bindgen/js_sys/web_sys; found:"; echo "$hits"; return 1
  fi
  echo "wasm_bindgen/js_sys/web_sys appear only in src/wasm.rs"
}
stage boundary boundary_check

size_check() {
  local wasm="$WEB_BUILD_OUT_DIR/${WEB_BUILD_OUT_NAME}_bg.wasm" gz
  [ -f "$wasm" ] || { echo "no $wasm (the build failed)"; return 1; }
  gz=$(gzip -9 -c "$wasm" | wc -c)
  echo "$wasm: $(stat -c %s "$wasm") bytes, $gz bytes gzipped (budget $WEB_BUDGET_WASM_GZIP_BYTES)"
  [ "$gz" -le "$WEB_BUDGET_WASM_GZIP_BYTES" ]
}
stage wasm-size size_check

summary
[ "$failed" = 0 ]
