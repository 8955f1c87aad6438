#!/bin/bash
# BeforeInstall: prepare the directories the install and the app need; check for node.
# Touches only sample-app's own paths.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(cd "$(dirname "$0")" && pwd)/common.sh"

mkdir -p "$(dirname "$INSTALL_DIR")" "$INSTALL_DIR" "$LOG_DIR" "$RUN_DIR"
chmod 755 "$INSTALL_DIR" "$LOG_DIR"

if ! node_path="$(find_node)"; then
  fail "node not found (PATH=$PATH; set NODE_BIN or install Node.js 20, e.g. 'dnf install -y nodejs20')"
fi
node_version="$("$node_path" --version)"
node_major="${node_version#v}"
node_major="${node_major%%.*}"
if [[ "$node_major" =~ ^[0-9]+$ ]] && (( node_major < 20 )); then
  log "warning: $node_path is $node_version, sample-app wants Node.js >= 20"
fi

log "prepared $INSTALL_DIR and $LOG_DIR (node $node_version at $node_path, port $APP_PORT)"
