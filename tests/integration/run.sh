#!/usr/bin/env bash
# Integration tests of airflow_db / airflow_user against real parts:
#   * Airflow 2.0.2 in a Python 3.7 venv installed offline from the wheelhouse of the shipped constraints
#     (tools/wheelhouse.sh builds it once; the venv is reused while the constraints file is unchanged),
#   * a throwaway PostgreSQL 15 cluster (own data dir under /tmp, a free port, password auth), always stopped,
#   * pytest driving ansible-playbook against localhost (tests/integration/test_*.py).
# usage: tests/integration/run.sh [pytest args...]
# env:   HA_AIRFLOW_PYTHON37 (Python 3.7 installation), HA_AIRFLOW_PGBIN (default /usr/lib/postgresql/15/bin)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
export PATH="$top/.venv/bin:$PATH" ANSIBLE_CONFIG="$top/ansible.cfg"
python37=${HA_AIRFLOW_PYTHON37:-/root/.pyenv/versions/3.7.16}/bin/python3.7
pgbin=${HA_AIRFLOW_PGBIN:-/usr/lib/postgresql/15/bin}
say() { echo "integration: $*" >&2; }

for need in "$python37" "$pgbin/initdb" "$pgbin/pg_ctl" "$pgbin/psql"; do
  [ -x "$need" ] || { say "missing $need (run 'make setup'; set HA_AIRFLOW_PYTHON37 / HA_AIRFLOW_PGBIN)"; exit 2; }
done

# --- Airflow 2.0.2 venv from the wheelhouse ---------------------------------------------------------------------
constraints="$top/roles/airflow/files/constraints/apache-airflow-2.0.2-python3.7.txt"
wheelhouse=$(tools/wheelhouse.sh 2.0.2 "$python37")
venv="$top/.cache/integration/airflow-2.0.2-py3.7"
stamp="$venv/.stamp-$(sha256sum "$constraints" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "installing Airflow 2.0.2 into $venv from $wheelhouse"
  start=$(date +%s)
  rm -rf "$venv" && mkdir -p "$(dirname "$venv")"
  "$python37" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-index --find-links "$wheelhouse" \
    -c "$constraints" "apache-airflow[amazon,celery,postgres,redis]==2.0.2"
  touch "$stamp"
  say "venv ready in $(( $(date +%s) - start ))s"
fi

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
export HA_AIRFLOW_IT_AIRFLOW="$venv/bin/airflow"
start=$(date +%s)
status=0
# Two workers, one test file each (the user tests share one migrated database per file).
pytest -p no:cacheprovider -q -n "${HA_AIRFLOW_IT_WORKERS:-2}" --dist loadfile tests/integration "$@" || status=$?
say "tests took $(( $(date +%s) - start ))s"
exit $status
