#!/usr/bin/env bash
# The bench command: engine figures natively and in headless Chromium (the
# release wasm), side by side in one run, plus the gzipped wasm size.
# Record the output in BENCHMARKS.md.
#   scripts/bench.sh [--rows N] [--repeat R]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
eval "$(python3 scripts/webcfg.py)"
models=(tests/fixtures/bench_mlp_64_128_10.onnx tests/fixtures/torch_cnn.onnx)

scripts/setup.sh >/dev/null
cargo build --release --bin bench 2>&1 | tail -n 1
scripts/build-web.sh | grep -E 'wasm-opt|gzipped' || true
native="$(mktemp)"; browser="$(mktemp)"
# alternate native and browser runs so machine noise hits both alike
target/release/bench "$@" "${models[@]}" > "$native"
node scripts/bench-browser.mjs "$@" "${models[@]}" > "$browser"
wasm="$WEB_BUILD_OUT_DIR/${WEB_BUILD_OUT_NAME}_bg.wasm"
python3 - "$native" "$browser" "$wasm" <<'PY'
import gzip, json, sys
nat = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
web = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
print(f"{'model':28} {'where':8} {'records/s':>12} {'infer ms':>10} {'epoch ms':>10}")
for n, w in zip(nat, web):
    for where, r in (("native", n), ("wasm", w)):
        print(f"{r['model']:28} {where:8} {r['inference_records_per_s']:>12,} {r['inference_ms']:>10.2f} {r['train_epoch_ms']:>10.2f}")
    print(f"{'':28} {'wasm/nat':8} {'':>12} {w['inference_ms']/n['inference_ms']:>9.2f}x {w['train_epoch_ms']/n['train_epoch_ms']:>9.2f}x")
data = open(sys.argv[3], 'rb').read()
print(f"wasm module: {len(data):,} bytes, {len(gzip.compress(data, 9)):,} bytes gzipped")
PY
rm -f "$native" "$browser"
