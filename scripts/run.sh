#!/usr/bin/env bash
# The main command: install what is missing, build the release wasm, and
# serve www/ on 127.0.0.1 with the bundled demo model loaded (prints the URL).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-web.sh
exec scripts/serve.sh
