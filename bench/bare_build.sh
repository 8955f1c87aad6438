#!/usr/bin/env bash
# The same real work as buildspec.yml, by a bare shell script: what a build costs without
# CodeBuild (or the emulator) around it. Usage: bare_build.sh SOURCE_ZIP [BUNDLE_ZIP]
# (BUNDLE_ZIP: where to keep the zipped bundle; by default it goes with the temp dir).
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" && cd "$work/src"
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(".")' "$1"
chmod 755 scripts/*.sh
export CODEBUILD_SRC_DIR="$work/src" CODEBUILD_BUILD_SUCCEEDING=1
export NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false NPM_CONFIG_PREFER_OFFLINE=true
# The buildspec's commands, phase by phase, read from the file itself so they never drift.
python3 - "$CODEBUILD_SRC_DIR/buildspec.yml" > "$work/commands.sh" <<'PY'
import sys, yaml
spec = yaml.safe_load(open(sys.argv[1]))
for phase in ("install", "pre_build", "build", "post_build"):
    for command in spec["phases"].get(phase, {}).get("commands", []):
        print(command)
PY
bash -euo pipefail "$work/commands.sh" > "$work/build.log" 2>&1
test -f "$work/src/bundle/app/release.json"
(cd "$work/src/bundle" && python3 -c 'import os, zipfile
with zipfile.ZipFile("../bundle.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for root, _, files in os.walk("."):
        for f in files: z.write(os.path.join(root, f))')
if [[ -n "${2:-}" ]]; then cp "$work/src/bundle.zip" "$2"; fi
