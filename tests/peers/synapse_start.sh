#!/bin/bash
# Start a throwaway Matrix Synapse homeserver (adapted from the shared peers notes; no curl needed) on loopback (sqlite, server_name "localhost").
# usage: synapse_start.sh DIR [PORT]   (needs $SYNAPSE_VENV, default ${PEERS:-$HOME/.cache/hermes-lite-peers}/synapse-venv)
# prints the PID; stop with: kill $(cat DIR/synapse.pid)
# registration shared secret is fixed: "test-shared-secret"
set -euo pipefail
DIR=${1:?dir}; PORT=${2:-8008}
VENV=${SYNAPSE_VENV:-${PEERS:-$HOME/.cache/hermes-lite-peers}/synapse-venv}
mkdir -p "$DIR"; DIR=$(cd "$DIR" && pwd)
cd "$DIR"   # generate-config puts the log file (homeserver.log) in the cwd
if [ ! -f "$DIR/homeserver.yaml" ]; then
  "$VENV/bin/python" -m synapse.app.homeserver --server-name localhost \
     --config-path "$DIR/homeserver.yaml" --generate-config --report-stats=no \
     --data-directory "$DIR/data" >/dev/null
  "$VENV/bin/python" - "$DIR/homeserver.yaml" "$PORT" <<'PY'
import sys, yaml
path, port = sys.argv[1], int(sys.argv[2])
c = yaml.safe_load(open(path))
c["listeners"] = [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                   "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}]
c["registration_shared_secret"] = "test-shared-secret"
c["trusted_key_servers"] = []            # never reach matrix.org
c["suppress_key_server_warning"] = True
c["enable_registration"] = True           # lets tests self-register via /register (m.login.dummy)
c["enable_registration_without_verification"] = True
c["presence"] = {"enabled": False}
big = {"per_second": 1000, "burst_count": 1000}
for k in ["rc_message", "rc_registration", "rc_joins", "rc_invites", "rc_admin_redaction",
          "rc_3pid_validation", "rc_media_create", "rc_registration_token_validity",
          "rc_delayed_event_mgmt", "rc_presence", "rc_room_creation", "rc_reports"]:
    c[k] = big
c["rc_login"] = {"address": big, "account": big, "failed_attempts": big}
c["rc_joins"] = {"local": big, "remote": big}
c["rc_invites"] = {"per_room": big, "per_user": big, "per_issuer": big}
c["url_preview_enabled"] = False
c["federation_domain_whitelist"] = []
yaml.safe_dump(c, open(path, "w"))
PY
  # quieter log: WARNING to file only
  sed -i 's/level: INFO/level: WARNING/' "$DIR/localhost.log.config"
fi
"$VENV/bin/synapse_homeserver" -c "$DIR/homeserver.yaml" > "$DIR/stdout.log" 2>&1 &
echo $! > "$DIR/synapse.pid"
for i in $(seq 1 240); do
  "$VENV/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/health', timeout=1)" \
    >/dev/null 2>&1 && break
  kill -0 "$(cat "$DIR/synapse.pid")" 2>/dev/null || { echo "synapse died; see $DIR/stdout.log $DIR/homeserver.log" >&2; exit 1; }
  sleep 0.25
done
cat "$DIR/synapse.pid"
