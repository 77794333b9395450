"""Stand-in for ansible-test's pip bootstrap script (get-pip-<version>.py).

ansible-test downloads that script from a host these machines cannot reach, then runs it inside each fresh sanity
virtualenv as ``python get_pip.py <pip options> pip==<version> setuptools==... wheel==...``. This stand-in does the
same with what the machine has: it bootstraps pip from the interpreter's bundled wheel (ensurepip, offline), then
lets that pip install the exact versions ansible-test asked for from the package index it can reach.
tests/sanity.sh copies it into ~/.ansible/test/cache/ under the name ansible-test looks for.
"""

import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
cert = os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt"
# ansible-test 2.19 passes get-pip's own options, which `pip install` does not know: --no-setuptools and --no-wheel
# mean "do not install them", which is what leaving them out of the requirement list does.
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
argv = [sys.executable, "-m", "pip", "install", "--cert", cert] + args
sys.exit(subprocess.call(argv))
