#!/usr/bin/env python3
"""Audit benchmark (issue 3): a full membership audit (all 13 attacks, 16
reference models per mode) of the 64-128-10 MLP fixture on a 1,000-record
pool (500 digits members + 500 non-members, 500 population records), run
natively (the release CLI) and in headless Chromium (the release wasm, the
same runAudit the page calls), beside scikit-learn training the same 16
references (MLPClassifier(128), adam, batch 64, the same number of epochs as
our references ran) on the same machine, in one run.

    python3 scripts/bench_audit.py          (after scripts/build-web.sh)
"""
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")
MODEL = os.path.join(FIX, "bench_mlp_64_128_10.onnx")
REFS = 16
SEED = 0


def rows(name):
    with open(os.path.join(FIX, "data", name)) as f:
        r = list(csv.reader(f))
    return r[0], r[1:]


def write(path, header, body):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(body)


def main():
    header, train = rows("digits.train.csv")
    _, test = rows("digits.test.csv")
    tmp = tempfile.mkdtemp(prefix="pi-bench-audit-")
    mem, non, pop = (os.path.join(tmp, n) for n in ("members.csv", "nonmembers.csv", "population.csv"))
    write(mem, header, train[:500])
    write(non, header, test[:500])
    write(pop, header, train[500:1000])

    cli = os.path.join(ROOT, "target", "release", "privacy-inspector")
    subprocess.run(["cargo", "build", "--release", "--bin", "privacy-inspector"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report = os.path.join(tmp, "report.json")
    t0 = time.perf_counter()
    subprocess.run([cli, "audit", MODEL, "--members", mem, "--nonmembers", non, "--population", pop,
                    "--references", str(REFS), "--seed", str(SEED), "--report", report, "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    native_s = time.perf_counter() - t0
    rep = json.load(open(report))
    epochs = [m["epochsRun"] if "epochsRun" in m else m.get("epochs_run")
              for mode in ("online", "offline") for m in (rep["references"][mode] or {}).get("models", [])]
    epochs = [e for e in epochs if e]
    ep = int(statistics.median(epochs)) if epochs else 20

    out = subprocess.run(["node", os.path.join(ROOT, "scripts", "bench-audit.mjs"), MODEL, mem, non, pop,
                          str(REFS), str(SEED)], check=True, capture_output=True, text=True)
    web = json.loads(out.stdout.strip().splitlines()[-1])
    web_s = web["audit_ms"] / 1000

    import numpy as np
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    x = np.array([[float(v) for v in r[:-1]] for r in train[:500] + test[:500]], dtype=np.float32)
    y = np.array([int(float(r[-1])) for r in train[:500] + test[:500]])
    rng = np.random.default_rng(SEED)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in range(REFS):
            idx = rng.permutation(len(x))[: len(x) // 2]
            MLPClassifier(hidden_layer_sizes=(128,), solver="adam", batch_size=64, max_iter=ep,
                          tol=0.0, n_iter_no_change=10**9, random_state=k).fit(x[idx], y[idx])
    sk_s = time.perf_counter() - t0

    nat_auc = {a["id"]: a.get("auc") for a in rep["attacks"]}
    worst = max((abs(nat_auc[i] - a) for i, a in web["attacks"] if a is not None and nat_auc.get(i) is not None),
                default=0.0)
    print(f"pool 1000 (500 members, 500 non-members), 500 population, {REFS} references per mode, "
          f"reference epochs (median) {ep}")
    print(f"{'native CLI, full audit (13 attacks, 32 reference models)':62} {native_s:8.2f} s")
    print(f"{'browser (wasm), full audit (13 attacks, 32 reference models)':62} {web_s:8.2f} s")
    print(f"{'scikit-learn, training 16 references only':62} {sk_s:8.2f} s")
    print(f"browser audit vs scikit-learn reference training: {sk_s / web_s:.1f}x faster")
    print(f"largest AUC difference native vs wasm over all attacks: {worst:.2e}")


if __name__ == "__main__":
    sys.exit(main())
