#!/usr/bin/env bash
# ansible-test wants the collection at .../ansible_collections/<namespace>/<name>: copy the tracked and
# not-ignored files there and run sanity on the controller's Python.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dest="$top/build/sanity/ansible_collections/ha_airflow/aws"
rm -rf "$dest" && mkdir -p "$dest"
cd "$top"
git ls-files -z --cached --others --exclude-standard | rsync -a --from0 --files-from=- ./ "$dest/"
cd "$dest"
py=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
exec ansible-test sanity --color no --python "$py" "$@"
