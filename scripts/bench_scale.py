#!/usr/bin/env python3
"""Scale benchmark (issue 7): a 100-256-256-10 MLP audited with the loss and
confidence attacks and LiRA online (16 references, 2 fixed epochs each) on
N records (N/2 members, N/2 non-members, 100 features), for N = 1k, 10k
and 100k, natively (the release CLI, 1 thread and every core) and in
headless Chromium (the page on the release build, every worker), with wall
time and peak memory (the CLI's max RSS; for the browser, the summed
proportional set size (PSS) of the benchmark's own Chromium processes,
sampled every 0.2 s: the browser itself, the page and every worker; BENCH_SCALE_PARTS=1 prints
the split by process type at the peak).

The data: a fixed random teacher network labels Gaussian inputs (10
classes); the target is trained by PyTorch on the members for 3 epochs.
Everything is seeded; files go to a temporary folder (nothing committed).

    python3 scripts/bench_scale.py [--browser-only] [N ...]     (after scripts/build-web.sh and cargo build --release)
"""
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "privacy-inspector")


def make(n, d, tmp):
    import torch

    rng = np.random.default_rng(n)
    w1 = rng.normal(size=(d, 32)).astype(np.float32)
    w2 = rng.normal(size=(32, 10)).astype(np.float32)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = np.argmax(np.tanh(x @ w1) @ w2 + rng.normal(scale=2.0, size=(n, 10)), axis=1)
    half = n // 2
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(d, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(),
                              torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x[:half]), torch.from_numpy(y[:half])
    for _ in range(3):
        perm = torch.randperm(half)
        for i in range(0, half, 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx]).backward()
            opt.step()
    buf = io.BytesIO()
    torch.onnx.export(net, torch.zeros(1, d), buf, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13, dynamo=False)
    model = os.path.join(tmp, f"mlp_{n}.onnx")
    open(model, "wb").write(buf.getvalue())
    header = ",".join([f"f{i}" for i in range(d)] + ["label"])

    def write(path, xs, ys):
        with open(path, "w") as f:
            f.write(header + "\n")
            for r, l in zip(xs, ys):
                f.write(",".join("%.6g" % v for v in r) + f",{int(l)}\n")

    mem = os.path.join(tmp, f"train_{n}.csv")
    non = os.path.join(tmp, f"test_{n}.csv")
    write(mem, x[:half], y[:half])
    write(non, x[half:], y[half:])
    return model, mem, non


def cli(model, mem, non, jobs, out):
    t0 = time.time()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", CLI, "audit", model, "--members", mem, "--nonmembers", non,
                        "--attacks", "loss,confidence,lira_online", "--references", "16", "--ref-epochs", "2",
                        "--seed", "1", "--jobs", str(jobs), "--quiet", "--report", out],
                       capture_output=True, text=True)
    secs = time.time() - t0
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    peak_kb = int(r.stderr.strip().splitlines()[-1])
    return secs, peak_kb / 1024


def descendants(root):
    """The pids under `root` (its children, theirs, ...)."""
    kids = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            ppid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(pid))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for k in kids.get(p, []):
            out.append(k)
            todo.append(k)
    return out


def chromium_pss_mb(root, parts=None):
    """Summed PSS of the Chromium processes under `root` (this benchmark's
    browser only, not another Chromium on the machine)."""
    total = 0
    for pid in descendants(root):
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read()
            if b"chromium" not in cmd and b"chrome" not in cmd:
                continue
            # proportional set size: shared pages split among the processes
            for line in open(f"/proc/{pid}/smaps_rollup"):
                if line.startswith("Pss:"):
                    kb = int(line.split()[1])
                    total += kb
                    if parts is not None:
                        kind = next((a.split(b"=", 1)[1].decode() for a in cmd.replace(b"\0", b" ").split(b" ") if a.startswith(b"--type=")), "browser")
                        parts[kind] = parts.get(kind, 0) + kb / 1024
        except OSError:
            pass
    return total / 1024


def browser(model, mem, non):
    peak = [0.0, {}]
    stop = threading.Event()

    proc = subprocess.Popen(["node", os.path.join(ROOT, "scripts", "bench-scale.mjs"), model, mem, non],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)

    def sample():
        while not stop.is_set():
            parts = {}
            mb = chromium_pss_mb(proc.pid, parts)
            if mb > peak[0]:
                peak[0], peak[1] = mb, parts
            time.sleep(0.2)

    th = threading.Thread(target=sample)
    th.start()
    try:
        out, err = proc.communicate()
    finally:
        stop.set()
        th.join()
    if proc.returncode != 0:
        raise SystemExit(out + err)
    res = json.loads(out.strip().splitlines()[-1])
    if os.environ.get("BENCH_SCALE_PARTS"):
        print("  at the peak (MB by process type): " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(peak[1].items())), flush=True)
        mem = res.get("memory") or {}
        print("  after the report: wasm memory per worker (MB): " + ", ".join(f"{(b or 0) / 2**20:.0f}" for b in mem.get("wasm", [])) +
              f"; main thread JS heap {(mem.get('mainJsHeap') or 0) / 2**20:.0f} MB", flush=True)
    return res, peak[0]


def main():
    browser_only = "--browser-only" in sys.argv
    sizes = [int(a) for a in sys.argv[1:] if not a.startswith("--")] or [1000, 10000, 100000]
    cores = os.cpu_count() or 1
    tmp = tempfile.mkdtemp(prefix="pi-bench-scale-")
    print(f"{'records':>8} {'where':24} {'seconds':>9} {'peak MB':>9} {'loss AUC':>9} {'LiRA AUC':>9}")
    for n in sizes:
        model, mem, non = make(n, 100, tmp)
        for jobs in [] if browser_only else sorted({1, cores}):
            out = os.path.join(tmp, f"r_{n}_{jobs}.json")
            secs, mb = cli(model, mem, non, jobs, out)
            rep = json.load(open(out))
            auc = {a["id"]: a.get("auc") for a in rep["attacks"]}
            print(f"{n:>8} {'native, ' + str(jobs) + ' thread(s)':24} {secs:>9.1f} {mb:>9.0f} {auc['loss']:>9.3f} {auc['lira_online']:>9.3f}", flush=True)
        res, mb = browser(model, mem, non)
        auc = dict(res["auc"])
        print(f"{n:>8} {'browser, ' + str(res['workers']) + ' workers':24} {res['seconds']:>9.1f} {mb:>9.0f} {auc['loss']:>9.3f} {auc['lira_online']:>9.3f}", flush=True)


if __name__ == "__main__":
    main()
