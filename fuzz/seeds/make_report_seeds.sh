#!/usr/bin/env bash
# Small reports of every kind (audit, attribute inference, model inversion)
# for the report_reader seed corpus, written by the CLI from the fixtures.
# The golden audit reports (tests/fixtures/golden) are seeds too, but large
# and audit-only. Run from the repository root:
#   bash fuzz/seeds/make_report_seeds.sh
set -euo pipefail
cargo build --bin privacy-inspector
bin=${CARGO_TARGET_DIR:-target}/debug/privacy-inspector
fx=tests/fixtures
out=fuzz/seeds/report_reader
tmp=$(mktemp -d)
head -11 $fx/data/iris.train.csv >"$tmp/m.csv"
head -11 $fx/data/iris.test.csv >"$tmp/n.csv"
head -11 $fx/data/digits.train.csv >"$tmp/dm.csv"
head -11 $fx/data/digits.test.csv >"$tmp/dn.csv"
mkdir -p "$out"
"$bin" audit $fx/sk_logreg_multi.onnx --members "$tmp/m.csv" --nonmembers "$tmp/n.csv" \
    --attacks loss,gap --seed 1 --quiet --report "$out/audit_small.json" >/dev/null
"$bin" attribute $fx/sk_logreg_multi.onnx --members "$tmp/m.csv" --nonmembers "$tmp/n.csv" \
    --sensitive f3 --auto-bins --report "$out/attribute.json" >/dev/null
"$bin" invert $fx/torch_cnn.onnx --class 3 --members "$tmp/dm.csv" --steps 20 \
    --report "$out/invert_image.json" >/dev/null
"$bin" invert $fx/sk_logreg_multi.onnx --class 1 --data "$tmp/m.csv" --steps 20 \
    --report "$out/invert_tabular.json" >/dev/null
rm -rf "$tmp"
ls -l "$out"
