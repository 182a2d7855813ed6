#!/usr/bin/env python3
"""Read wasm-pack.toml and print its settings as shell assignments.

Usage: eval "$(python3 scripts/webcfg.py)"  -> WEB_TOOLCHAIN_WASM_PACK=0.15.1 ...
Keys become WEB_<TABLE>_<KEY> (upper case, '-' -> '_'); lists are joined
with spaces. Python 3.11's tomllib parses the file; nothing else reads it.
"""
import pathlib
import shlex
import sys
import tomllib

root = pathlib.Path(__file__).resolve().parent.parent
with open(root / "wasm-pack.toml", "rb") as f:
    cfg = tomllib.load(f)

for table, values in cfg.items():
    for key, value in values.items():
        name = f"WEB_{table}_{key}".upper().replace("-", "_")
        if isinstance(value, list):
            value = " ".join(str(v) for v in value)
        print(f"{name}={shlex.quote(str(value))}")
sys.exit(0)
