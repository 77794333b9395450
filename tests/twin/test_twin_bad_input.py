"""Bad input to the AWS twin (tools/twin/twin): each gets a one-line error, and `twin down` (what `make lab-down`
runs) leaves nothing behind. Needs root, like the twin itself; the interrupted run boots the data subnet's machines.
"""
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TWIN = os.path.join(ROOT, "tools", "twin", "twin")
BEDS = "/var/lib/ha-airflow-testbed/beds"
STATE = "/var/lib/ha-airflow-twin"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the twin runs as root")


def twin(*args, env=None, user=None):
    argv = [sys.executable, TWIN] + list(args)
    if user:  # the system's Python: the controller's venv may live where others cannot read (under /root)
        argv = ["runuser", "-u", user, "--", "/usr/bin/python3", TWIN] + list(args)
    return subprocess.run(argv, env=dict(os.environ, **(env or {})), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=900, check=False)


def one_line_error(proc, *words):
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("twin: error:")]
    assert len(errors) == 1, proc.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def leftovers(name):
    links = subprocess.run(["ip", "-o", "link", "show"], stdout=subprocess.PIPE, text=True, check=False).stdout
    rules = subprocess.run(["sh", "-c", "iptables -w -S; iptables -w -t nat -S"], stdout=subprocess.PIPE, text=True,
                           check=False).stdout
    beds = [b for b in (os.listdir(BEDS) if os.path.isdir(BEDS) else []) if b.startswith(name)]
    found = [ln for ln in links.splitlines() if "tb-" + name in ln] + [ln for ln in rules.splitlines()
                                                                       if "testbed:" + name in ln] + beds
    if os.path.exists(os.path.join(STATE, name)):
        found.append(os.path.join(STATE, name))
    return found


def test_not_root():
    proc = twin("up", "badroot", user="nobody")
    one_line_error(proc, "must run as root")
    assert not leftovers("badroot")


def test_bad_name():
    one_line_error(twin("up", "Bad_Name"), "bad twin name")


def test_unknown_region_has_no_example_inventory():
    one_line_error(twin("up", "badreg", "--region", "eu-west-9"), "no example inventory")
    assert not leftovers("badreg")


def test_subnet_clash():
    """Every /20 of the pool clashes with a host route: refused before anything is made."""
    dev, net = "twintest0", ipaddress.ip_network("10.213.0.0/20")
    subprocess.run(["ip", "link", "add", dev, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", "10.213.5.1/20", "dev", dev], check=True)
        subprocess.run(["ip", "link", "set", dev, "up"], check=True)
        proc = twin("up", "badnet", env={"TESTBED_SUBNET_POOL": str(net)})
        one_line_error(proc, "no free /20", "TESTBED_SUBNET_POOL")
        assert not leftovers("badnet")
    finally:
        subprocess.run(["ip", "link", "del", dev], check=False)


def test_moto_cannot_start():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = twin("up", "badmoto", env={"TWIN_MOTO_PORT": str(port)})
    one_line_error(proc, "moto cannot listen", str(port))
    assert not leftovers("badmoto")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["interrupted", "killed"])
def test_interrupted_halfway(sig):
    """A `twin up` stopped while the data subnet boots: TERM rolls back; after KILL, `twin down` cleans up."""
    name = "intr" if sig == signal.SIGTERM else "kill"
    with subprocess.Popen([sys.executable, TWIN, "up", name], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:
        deadline = time.monotonic() + 120
        while not os.path.isdir(os.path.join(BEDS, name + "d")):  # halfway: the data subnet's bed is coming up
            assert time.monotonic() < deadline and proc.poll() is None, "twin up did not get halfway"
            time.sleep(0.2)
        proc.send_signal(sig)
        err = proc.communicate(timeout=300)[1]
    assert proc.returncode != 0
    if sig == signal.SIGTERM:
        assert not leftovers(name), err
    down = twin("down", name)
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["changed"] is (sig == signal.SIGKILL)
    assert not leftovers(name)
    again = twin("down", name)
    assert again.returncode == 0 and json.loads(again.stdout)["changed"] is False
