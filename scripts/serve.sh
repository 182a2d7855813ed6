#!/usr/bin/env bash
# Serve www/ (the release build from scripts/build-web.sh) on 127.0.0.1 with
# Python's static server, which sends .wasm as application/wasm. Host, port
# and demo come from wasm-pack.toml; PORT=... overrides the port, and a busy
# port falls back to a free one.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(python3 scripts/webcfg.py)"

if [ ! -f "$WEB_BUILD_OUT_DIR/${WEB_BUILD_OUT_NAME}_bg.wasm" ]; then
  echo "serve: no build in $WEB_BUILD_OUT_DIR; run scripts/build-web.sh (or scripts/run.sh)" >&2
  exit 1
fi
host="$WEB_SERVE_HOST"
port="${PORT:-$WEB_SERVE_PORT}"
port="$(python3 - "$host" "$port" <<'PY'
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.socket()
try:
    s.bind((host, port))
except OSError:
    s.close(); s = socket.socket(); s.bind((host, 0))
print(s.getsockname()[1]); s.close()
PY
)"
echo
echo "  privacy-inspector is served at:  http://$host:$port/?demo=$WEB_SERVE_DEMO"
echo "  (the page without a demo:         http://$host:$port/ )   Ctrl-C stops the server."
echo
exec python3 -m http.server "$port" --bind "$host" --directory www
