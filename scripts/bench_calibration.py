#!/usr/bin/env python3
"""Calibrated reference training, side by side in one run (BENCHMARKS.md,
"Calibrated references"): on a bundled demo, the default Standard audit
natively (1 and 2 threads) and the time PyTorch on the CPU takes to train
the same references (same architecture, same training-set sizes, the same
number of epochs each reference ran in the audit, batch 64, Adam with the
same learning rate), then, if the web build exists, the page's Standard
audit (scripts/bench-page.mjs, 1 and 2 workers).

    cargo build --release && scripts/build-web.sh   # once (PI_EXE=path picks another CLI build)
    python3 scripts/bench_calibration.py [demo=digits] [--no-page]

Needs torch. The demo's model must be an MLP (Gemm/MatMul + Relu layers, as
the digits and regularised demos are): the PyTorch copy is built from the
ONNX weights' shapes.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import torch

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "tests/fixtures/demo"


def read_csv(p):
    rows = p.read_text().strip().split("\n")[1:]
    d = np.array([[float(v) for v in r.split(",")] for r in rows], dtype=np.float32)
    return d[:, :-1], d[:, -1].astype(int)


def layer_sizes(model_path):
    m = onnx.load(str(model_path))
    dims = [tuple(t.dims) for t in m.graph.initializer if len(t.dims) == 2 and min(t.dims) > 1]
    sizes = [dims[0][0]]
    for a, b in dims:  # the weight matrices, chained (skips other 2-D constants)
        if a == sizes[-1]:
            sizes.append(b)
    return sizes


def torch_train(sizes, X, y, epochs, lr, seed):
    torch.manual_seed(seed)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    Xt, yt = torch.tensor(X), torch.tensor(y, dtype=torch.long)
    for _ in range(epochs):
        perm = torch.randperm(len(yt))
        for s in range(0, len(yt), 64):
            b = perm[s:s + 64]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(Xt[b]), yt[b]).backward()
            opt.step()
        # the inspector evaluates the fit after every epoch (the stop rule)
        with torch.no_grad():
            net(Xt)
    return net


def main():
    demo = next((a for a in sys.argv[1:] if not a.startswith("--")), "digits")
    spec = json.loads((DEMO / "demos.json").read_text())[demo]
    exe = Path(os.environ.get("PI_EXE", ROOT / "target/release/privacy-inspector"))
    files = {k: DEMO / spec[k] for k in ("model", "members", "nonmembers", "population")}
    rows = []
    report = None
    for jobs in (1, 2):
        out = Path(f"/tmp/bench-calibration-{jobs}.json")
        t0 = time.time()
        subprocess.run([str(exe), "audit", str(files["model"]), "--members", str(files["members"]),
                        "--nonmembers", str(files["nonmembers"]), "--population", str(files["population"]),
                        "--attacks", "all", "--references", "16", "--jobs", str(jobs), "--quiet",
                        "--report", str(out)], check=True, stdout=subprocess.DEVNULL)
        dt = time.time() - t0
        rows.append((f"native Standard audit, {jobs} thread(s)", dt))
        report = json.loads(out.read_text())
    refs = report["references"]
    sizes = layer_sizes(files["model"])
    X, y = read_csv(files["members"])
    torch.set_num_threads(1)
    lr = report["settings"]["recipe"]["optimizer"]["lr"]
    t0 = time.time()
    epochs_all = []
    for mode in ("online", "offline"):
        for i, m in enumerate(refs[mode]["models"]):
            n = m["trainSize"]
            idx = np.random.default_rng(i).choice(len(X), size=min(n, len(X)), replace=False)
            torch_train(sizes, X[idx], y[idx], m["epochsRun"], lr, i)
            epochs_all.append(m["epochsRun"])
    rows.append((f"PyTorch CPU (1 thread), the same {len(epochs_all)} references alone", time.time() - t0))
    cal = refs["online"]["calibration"]
    print(f"demo {demo}: MLP {sizes}; references: online {len(refs['online']['models'])} + offline "
          f"{len(refs['offline']['models'])}, {cal['trainSize']} records each, epochs median {cal['epochsMedian']} "
          f"(online), total {sum(epochs_all)} epochs; target member loss {cal['target']['members']['lossMedian']:.3e}, "
          f"references {cal['inLossMedian']['median']:.3e}")
    for name, dt in rows:
        print(f"{name:60s} {dt:8.1f} s")
    if "--no-page" not in sys.argv and (ROOT / "www/pkg").exists():
        subprocess.run(["node", str(ROOT / "scripts/bench-page.mjs"), demo, "1"], check=True)


if __name__ == "__main__":
    main()
