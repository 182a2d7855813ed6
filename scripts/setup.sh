#!/usr/bin/env bash
# Install what the web build and the tests need, skipping what is present.
# Versions come from wasm-pack.toml (and Cargo.lock for wasm-bindgen).
#   - rustup target wasm32-unknown-unknown
#   - wasm-pack (cargo install; the npm package fetches from GitHub and fails)
#   - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock
#   - npm ci: binaryen (wasm-opt) and playwright-core, pinned in package.json
#   - Debian chromium + chromium-driver (apt-get update first)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*"; }
have() { command -v "$1" >/dev/null 2>&1; }
SUDO=""
if [ "$(id -u)" != 0 ] && have sudo; then SUDO="sudo"; fi
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    say "apt-get update"
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"
}

have python3 || apt_install python3
have cargo || { echo "setup: cargo is missing; install Rust with rustup (https://rustup.rs) first" >&2; exit 1; }
eval "$(python3 scripts/webcfg.py)"
export PATH="$HOME/.cargo/bin:$PATH"

# 1. the wasm target
if rustup target list --installed | grep -qx "$WEB_TOOLCHAIN_RUST_TARGET"; then
  say "rust target $WEB_TOOLCHAIN_RUST_TARGET: present"
else
  say "rustup target add $WEB_TOOLCHAIN_RUST_TARGET"
  rustup target add "$WEB_TOOLCHAIN_RUST_TARGET"
fi

# 2. wasm-pack
if have wasm-pack && [ "$(wasm-pack --version 2>/dev/null)" = "wasm-pack $WEB_TOOLCHAIN_WASM_PACK" ]; then
  say "wasm-pack $WEB_TOOLCHAIN_WASM_PACK: present"
else
  say "cargo install wasm-pack --version $WEB_TOOLCHAIN_WASM_PACK (a few minutes)"
  cargo install wasm-pack --version "$WEB_TOOLCHAIN_WASM_PACK" --force
fi

# 3. wasm-bindgen-cli matching Cargo.lock exactly
lock_v="$(python3 - <<'PY'
import tomllib
lock = tomllib.load(open("Cargo.lock", "rb"))
print(next(p["version"] for p in lock["package"] if p["name"] == "wasm-bindgen"))
PY
)"
if [ "$lock_v" != "$WEB_TOOLCHAIN_WASM_BINDGEN_CLI" ]; then
  echo "setup: Cargo.lock has wasm-bindgen $lock_v but wasm-pack.toml pins wasm-bindgen-cli $WEB_TOOLCHAIN_WASM_BINDGEN_CLI; make them equal" >&2
  exit 1
fi
if have wasm-bindgen && [ "$(wasm-bindgen --version)" = "wasm-bindgen $lock_v" ] \
   && have wasm-bindgen-test-runner; then
  say "wasm-bindgen-cli $lock_v: present"
else
  say "cargo install wasm-bindgen-cli --version $lock_v (a few minutes)"
  cargo install wasm-bindgen-cli --version "$lock_v" --force
fi

# 4. npm packages (binaryen's wasm-opt, playwright-core)
have node && have npm || apt_install nodejs npm
pins_ok="$(python3 - "$WEB_TOOLCHAIN_BINARYEN" "$WEB_TOOLCHAIN_PLAYWRIGHT_CORE" <<'PY'
import json, sys
deps = json.load(open("package.json"))["devDependencies"]
print("yes" if deps.get("binaryen") == sys.argv[1] and deps.get("playwright-core") == sys.argv[2] else deps)
PY
)"
if [ "$pins_ok" != yes ]; then
  echo "setup: package.json devDependencies $pins_ok differ from wasm-pack.toml (binaryen $WEB_TOOLCHAIN_BINARYEN, playwright-core $WEB_TOOLCHAIN_PLAYWRIGHT_CORE)" >&2
  exit 1
fi
installed() { node -p "require('./node_modules/$1/package.json').version" 2>/dev/null || true; }
if [ "$(installed binaryen)" = "$WEB_TOOLCHAIN_BINARYEN" ] && [ "$(installed playwright-core)" = "$WEB_TOOLCHAIN_PLAYWRIGHT_CORE" ] \
   && [ -x node_modules/.bin/wasm-opt ]; then
  say "npm binaryen $WEB_TOOLCHAIN_BINARYEN, playwright-core $WEB_TOOLCHAIN_PLAYWRIGHT_CORE: present"
else
  say "npm ci"
  npm ci --no-audit --no-fund
fi

# 5. headless Chromium and its driver (for wasm-bindgen tests and the e2e test)
if [ -x "$WEB_TOOLCHAIN_CHROMIUM" ] && [ -x "$WEB_TOOLCHAIN_CHROMEDRIVER" ]; then
  say "chromium, chromedriver: present"
else
  apt_install chromium chromium-driver
fi
say "done"
