#!/usr/bin/env bash
# Installs headless Chromium from the Debian packages (no browser download from any CDN), for the
# HTML report's browser test (tests/browser/). Prints the browser's path on stdout.
#
#   bash scripts/install-chromium.sh      # -> /usr/bin/chromium
#
# Idempotent: prints the path at once when chromium is already on PATH. Needs root (apt-get) only
# when it is missing; exits 2 when it is missing and this is not root, 1 when apt-get fails.
set -euo pipefail
found="$(command -v chromium || command -v chromium-browser || true)"
if [ -n "$found" ]; then echo "$found"; exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "install-chromium: chromium is not installed and this is not root (apt-get needs root)" >&2
  exit 2
fi
echo "install-chromium: installing chromium (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium
