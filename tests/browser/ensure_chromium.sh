#!/usr/bin/env bash
# Make sure Debian's chromium is installed for tests/test_browser.py (a fresh CI machine lacks it).
# It never runs `playwright install`: the pip playwright package drives this system chromium.
set -euo pipefail
CHROMIUM=/usr/lib/chromium/chromium
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: $CHROMIUM is missing and apt-get is not available; install chromium by hand" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
test -x "$CHROMIUM"
echo "ensure_chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
