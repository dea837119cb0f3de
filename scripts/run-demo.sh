#!/usr/bin/env bash
# The main job: installs what is missing, builds, and runs soukd on its embedded SQLite
# store under ./data, with a demo app and a shopper token printed so that a client can
# connect at once. Stop with Ctrl-C (SIGTERM/SIGINT drain gracefully).
#   PORT=8080 DATA_DIR=./data scripts/run-demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT=${PORT:-8080}
DATA_DIR=${DATA_DIR:-$ROOT/data}
BUILD=${BUILD_DIR:-$ROOT/build}

bash scripts/setup.sh
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOUK_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null

SOUKCTL="$BUILD/server/soukctl"
SOUKD="$BUILD/server/soukd"
mkdir -p "$DATA_DIR"
APP_JSON="$DATA_DIR/demo-app.json"
if [ ! -s "$APP_JSON" ]; then
  "$SOUKCTL" --data-dir "$DATA_DIR" app create demo --json > "$APP_JSON"
fi
APP_ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["app_id"])' "$APP_JSON")
API_KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$APP_JSON")
TOKEN=$("$SOUKCTL" --data-dir "$DATA_DIR" token "$APP_ID" demo-shopper --ttl 86400)
URL="ws://127.0.0.1:$PORT/v1/ws"

cat <<MSG

  Souk demo
  ---------
  server     $URL   (health: http://127.0.0.1:$PORT/healthz, metrics: /metrics)
  data dir   $DATA_DIR   (SQLite, WAL, synchronous=FULL)
  app id     $APP_ID
  api key    $API_KEY
  user token (demo-shopper, valid 24 h):
  $TOKEN

MSG
if [ -x "$BUILD/samples/shopper-cli/shopper-cli" ]; then
  cat <<MSG
  Chat as the shopper from another terminal:
  $BUILD/samples/shopper-cli/shopper-cli --url ws://127.0.0.1:$PORT --app $APP_ID \\
      --token $TOKEN --db /tmp/souk-demo-shopper.db

MSG
fi
echo "  More tokens: $SOUKCTL --data-dir $DATA_DIR token $APP_ID USER_ID"
echo
exec "$SOUKD" --data-dir "$DATA_DIR" --listen "127.0.0.1:$PORT"
