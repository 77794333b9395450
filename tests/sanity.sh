#!/usr/bin/env bash
# ansible-test sanity on this collection. ansible-test wants the collection at .../ansible_collections/<ns>/<name>
# and lists files through git when it sits inside a git work tree (build/ here is git-ignored, so a copy there would
# be skipped whole): copy the tracked and not-ignored files to a folder outside the repository, with the collections
# this one imports beside it, and run sanity there on the controller's Python.
#
# Gap bridged: ansible-test bootstraps pip in each sanity virtualenv with a script from a host these machines cannot
# reach; tests/sanity/get_pip.py stands in for it (ensurepip, then pip from the package index).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ha_airflow-sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/ha_airflow/aws"
mkdir -p "$dest"
cd "$top"
# molecule/site/inventory links into the AWS twin's state folder (dangling unless `twin up site` runs): it is a test
# fixture, not collection content, and stays out of the copy (and of the tarball: galaxy.yml build_ignore).
git ls-files -z --cached --others --exclude-standard | grep -zv '^molecule/site/inventory/' \
  | rsync -a --from0 --files-from=- ./ "$dest/"

site=$(python3 -c 'import ansible, os; print(os.path.dirname(os.path.dirname(ansible.__file__)))')
for dep in amazon/aws community/aws ansible/utils community/postgresql; do
  mkdir -p "$work/ansible_collections/${dep%/*}"
  ln -sfn "$site/ansible_collections/$dep" "$work/ansible_collections/$dep"
done

# ansible-test names the script after the pip version it bootstraps (get_venv_packages); ask it which.
pip_version=$(python3 -c 'from ansible_test._internal.python_requirements import get_venv_packages as g
from ansible_test._internal.host_configs import NativePythonConfig as N; import sys
print(g(N(version="%d.%d" % sys.version_info[:2], path=sys.executable))["pip"])')
mkdir -p ~/.ansible/test/cache
cp tests/sanity/get_pip.py ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"

cd "$dest"
py=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
ansible-test sanity --color no --python "$py" "$@"
