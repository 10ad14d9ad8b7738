#!/bin/sh
# Installs what tests/web needs: acorn (JS syntax check), Playwright and Chromium
# (browser test). Safe to run again: each step is skipped when already done.
set -eu
cd "$(dirname "$0")/.."

# acorn goes into a project-local prefix, so the tests find it without a global install.
ACORN_PREFIX=.ci/node_modules_root
if [ ! -f "$ACORN_PREFIX/node_modules/acorn/package.json" ]; then
    npm install --prefix "$ACORN_PREFIX" --no-audit --no-fund --no-save acorn@8
fi

python -c "import playwright" 2>/dev/null || python -m pip install playwright
python -c "import PIL" 2>/dev/null || python -m pip install Pillow

# Playwright's own browser download cannot reach its CDN; the tests use Debian's.
if [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
fi
