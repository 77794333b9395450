#!/usr/bin/env bash
# Integration tests of airflow_db / airflow_user against real parts, every test once per Airflow:
#   * Airflow 2.0.2 in a Python 3.7 venv and Airflow 3.3.2 (with the FAB provider) in a Python 3.11 venv, each
#     installed offline from the wheelhouse of its shipped constraints (tools/wheelhouse.sh builds it once; a venv
#     is reused while its constraints file is unchanged),
#   * a throwaway PostgreSQL 15 cluster (own data dir under /tmp, a free port, password auth), always stopped,
#   * pytest driving ansible-playbook against localhost (tests/integration/test_*.py).
# usage: tests/integration/run.sh [pytest args...]
# env:   HA_AIRFLOW_PYTHON37 / HA_AIRFLOW_PYTHON311 (Python installations), HA_AIRFLOW_PGBIN (default
#        /usr/lib/postgresql/15/bin), HA_AIRFLOW_IT_VERSIONS (default "2.0.2 3.3.2": the Airflows to test)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
export PATH="$top/.venv/bin:$PATH" ANSIBLE_CONFIG="$top/ansible.cfg"
python37=${HA_AIRFLOW_PYTHON37:-/root/.pyenv/versions/3.7.16}/bin/python3.7
python311=${HA_AIRFLOW_PYTHON311:-/root/.pyenv/versions/3.11.7}/bin/python3.11
versions=${HA_AIRFLOW_IT_VERSIONS:-2.0.2 3.3.2}
pgbin=${HA_AIRFLOW_PGBIN:-/usr/lib/postgresql/15/bin}
say() { echo "integration: $*" >&2; }

for need in "$pgbin/initdb" "$pgbin/pg_ctl" "$pgbin/psql"; do
  [ -x "$need" ] || { say "missing $need (run 'make setup'; set HA_AIRFLOW_PGBIN)"; exit 2; }
done

# --- one venv per Airflow, from its wheelhouse --------------------------------------------------------------------
# venv <version> <python> <pip extras>: prints bin/airflow of a venv installed from the shipped constraints.
venv() {
  local version=$1 python=$2 extras=$3 pyver constraints wheelhouse dir stamp start
  [ -x "$python" ] || { say "missing $python for Airflow $version (set HA_AIRFLOW_PYTHON37 / HA_AIRFLOW_PYTHON311)"; exit 2; }
  pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  constraints="$top/roles/airflow/files/constraints/apache-airflow-$version-python$pyver.txt"
  wheelhouse=$(tools/wheelhouse.sh "$version" "$python")
  dir="$top/.cache/integration/airflow-$version-py$pyver"
  stamp="$dir/.stamp-$(sha256sum "$constraints" | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    say "installing Airflow $version into $dir from $wheelhouse"
    start=$(date +%s)
    rm -rf "$dir" && mkdir -p "$(dirname "$dir")"
    "$python" -m venv "$dir" >&2
    "$dir/bin/pip" install --quiet --disable-pip-version-check --no-index --find-links "$wheelhouse" \
      -c "$constraints" "apache-airflow[$extras]==$version" >&2
    touch "$stamp"
    say "venv ready in $(( $(date +%s) - start ))s"
  fi
  echo "$dir/bin/airflow"
}
for version in $versions; do
  case $version in
    2.0.2) exe=$(venv 2.0.2 "$python37" amazon,celery,postgres,redis) ;;
    3.3.2) exe=$(venv 3.3.2 "$python311" amazon,celery,fab,postgres,redis) ;;
    *) say "no venv recipe for Airflow $version (HA_AIRFLOW_IT_VERSIONS)"; exit 2 ;;
  esac
  export "HA_AIRFLOW_IT_AIRFLOW_${version//./_}=$exe"
done
export HA_AIRFLOW_IT_VERSIONS="$versions"

# --- throwaway PostgreSQL 15 --------------------------------------------------------------------------------------
pgroot=$(mktemp -d /tmp/ha-airflow-it-pg.XXXXXX)
chmod 755 "$pgroot"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || { say "no 'postgres' user to run the server as (install the postgresql package)"; exit 2; }
  chown postgres "$pgroot"
  as_pg=(runuser -u postgres --)
fi
# shellcheck disable=SC2317  # cleanup runs from the trap below, which shellcheck does not follow
cleanup() {
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgroot/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pgroot"
}
trap cleanup EXIT INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
superpw=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
echo "$superpw" > "$pgroot/pw" && chmod 644 "$pgroot/pw"
"${as_pg[@]}" "$pgbin/initdb" -D "$pgroot/data" -U postgres -A scram-sha-256 --pwfile="$pgroot/pw" >/dev/null
rm -f "$pgroot/pw"
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgroot/data" -w -l "$pgroot/server.log" \
  -o "-p $port -k $pgroot -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
say "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data $pgroot/data)"

export HA_AIRFLOW_IT_PGBIN="$pgbin" HA_AIRFLOW_IT_PGPORT="$port" HA_AIRFLOW_IT_PGPASSWORD="$superpw"
start=$(date +%s)
status=0
# Two workers. The user tests of one Airflow share one migrated database, so they stay together on one worker
# (an xdist group per file and Airflow, conftest.py); the others go wherever a worker is free.
pytest -p no:cacheprovider -q -n "${HA_AIRFLOW_IT_WORKERS:-2}" --dist loadgroup tests/integration "$@" || status=$?
say "tests took $(( $(date +%s) - start ))s"
exit $status
