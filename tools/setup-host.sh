#!/usr/bin/env bash
# System packages the tests need on a Debian/Ubuntu controller, installed once (as root).
set -euo pipefail
packages=(
  systemd-container debootstrap iptables iproute2 openssh-client rsync zstd git make curl ca-certificates
  postgresql            # integration tests: a real PostgreSQL 15 for the airflow_db/airflow_user modules
  redis-server          # integration tests and the lab's stand-in for ElastiCache
  python3-venv
  shellcheck            # ansible-test sanity's shellcheck test (skipped when the program is missing)
  patchelf              # tools/python-archive/build: the Python 3.7 archive's RUNPATH becomes $ORIGIN-relative
)
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-host: run as root (it installs system packages and the test bed boots machines)" >&2
  exit 1
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-host: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the packaged services; the tests start their own instances on their own ports.
  for svc in postgresql redis-server; do
    if command -v service >/dev/null; then service "$svc" stop >/dev/null 2>&1 || true; fi
  done
fi
