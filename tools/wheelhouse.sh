#!/usr/bin/env bash
# Build (once) a wheelhouse of Airflow and every pinned dependency from the constraints file the collection ships,
# so test venvs and test-bed hosts install offline in seconds:
#   pip install --no-index --find-links "$(tools/wheelhouse.sh)" -c <constraints> "apache-airflow[<extras>]==<ver>"
#
# usage: tools/wheelhouse.sh [AIRFLOW_VERSION] [PYTHON]
#   AIRFLOW_VERSION  default 2.0.2
#   PYTHON           the interpreter the wheels are for (wheel tags follow it);
#                    default ${HA_AIRFLOW_PYTHON37:-/root/.pyenv/versions/3.7.16}/bin/python3.7
# Prints the wheelhouse directory on stdout (progress goes to stderr):
#   .cache/wheelhouse/airflow-<ver>-py<major.minor>/
# The directory is stamped with the sha256 of the constraints file and rebuilt only when that changes.
# pip's HTTP cache lives in .cache/pip. Extras: WHEELHOUSE_EXTRAS, else the constraints file's "# extras: ..." line,
# else amazon,celery,postgres,redis.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
version=${1:-2.0.2}
python=${2:-${HA_AIRFLOW_PYTHON37:-/root/.pyenv/versions/3.7.16}/bin/python3.7}

say() { echo "wheelhouse: $*" >&2; }
if [ ! -x "$python" ]; then
  say "no Python at $python; set HA_AIRFLOW_PYTHON37 (or pass the interpreter as the second argument)"
  exit 2
fi
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
constraints="$top/roles/airflow/files/constraints/apache-airflow-$version-python$pyver.txt"
if [ ! -f "$constraints" ]; then
  say "no constraints file for Airflow $version on Python $pyver: $constraints"
  exit 2
fi
extras=${WHEELHOUSE_EXTRAS:-$(sed -n 's/^# extras: *//p' "$constraints" | head -n 1)}
extras=${extras:-amazon,celery,postgres,redis}
sum=$(sha256sum "$constraints" | cut -c1-16)
base="$top/.cache/wheelhouse"
dest="$base/airflow-$version-py$pyver"
mkdir -p "$base" "$top/.cache/pip"

# One builder at a time (the integration tests and the test bed may ask together).
exec 9>"$base/.lock-airflow-$version-py$pyver"
flock 9

if [ -f "$dest/.stamp-$sum" ]; then
  say "up to date: $dest"
  echo "$dest"
  exit 0
fi

say "building $dest from $(basename "$constraints") (sha256 $sum)"
tmp=$(mktemp -d "$base/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
"$python" -m venv "$tmp/venv"
# Some pins ship only as sdists (flask-login, python-nvd3, ...): building them needs `wheel`.
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check --cache-dir "$top/.cache/pip" "wheel==0.42.0" >&2
# pip wheel runs under the target interpreter so the wheels carry its tags (cp37, manylinux).
"$tmp/venv/bin/pip" wheel --quiet --disable-pip-version-check --cache-dir "$top/.cache/pip" \
  --wheel-dir "$tmp/wheels" -c "$constraints" "apache-airflow[$extras]==$version" >&2
# Every pin of the constraints file too, also those this interpreter does not install (a marker such as
# python_full_version < "3.11.3": async-timeout for Debian 12's 3.11.2 when the wheels are built on 3.11.7).
grep -E '^[A-Za-z0-9._-]+==' "$constraints" > "$tmp/pins.txt"
"$tmp/venv/bin/pip" wheel --quiet --disable-pip-version-check --cache-dir "$top/.cache/pip" --no-deps \
  --wheel-dir "$tmp/wheels" -r "$tmp/pins.txt" >&2
# The install must be possible from the wheelhouse alone: prove it before publishing.
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check --no-index --find-links "$tmp/wheels" \
  -c "$constraints" "apache-airflow[$extras]==$version" >&2
"$tmp/venv/bin/pip" check >&2
rm -rf "$dest"
mv "$tmp/wheels" "$dest"
touch "$dest/.stamp-$sum"
say "built $(find "$dest" -name '*.whl' | wc -l) wheels in $(( $(date +%s) - start ))s"
echo "$dest"
