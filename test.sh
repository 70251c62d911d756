#!/usr/bin/env bash
# Sets up everything the tests need on a fresh Debian machine, then runs them.
#   ./test.sh [pytest args...]
# Installs: Debian's prometheus (promtool) when missing (needs root or sudo), the
# package with its test extras, then runs ruff and pytest.
set -euo pipefail
cd "$(dirname "$0")"

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}

command -v promtool >/dev/null || apt_install prometheus

python3 -m pip install --quiet --disable-pip-version-check ".[test]"
python3 -m pytest "$@"
