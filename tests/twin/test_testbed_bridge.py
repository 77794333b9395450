"""The test bed's bridge and its tag (tools/testbed/testbed): a bed's bridge is known as its own by its alias, so
the two must never be parted by a signal, and `down` must still remove an untagged bridge that an `up` killed
between the two left in a bed of its own. Real bridges; needs root, like the test bed."""
import importlib.machinery
import importlib.util
import os
import signal
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_LOADER = importlib.machinery.SourceFileLoader("testbed_bridge", os.path.join(ROOT, "tools", "testbed", "testbed"))
testbed = importlib.util.module_from_spec(importlib.util.spec_from_loader(_LOADER.name, _LOADER))
_LOADER.exec_module(testbed)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="bridges are made as root")


@pytest.fixture()
def state_root(tmp_path, monkeypatch):
    root = tmp_path / "state"
    monkeypatch.setattr(testbed, "STATE_ROOT", str(root))
    monkeypatch.setattr(testbed, "BEDS_DIR", str(root / "beds"))
    monkeypatch.setattr(testbed, "FORWARD_ORIG", str(root / "ip_forward.orig"))
    made = []
    yield made
    for bed in made:
        subprocess.run(["ip", "link", "del", testbed.bridge_name(bed)], stderr=subprocess.DEVNULL, check=False)


def test_a_term_right_after_the_bridge_is_made_waits_for_its_tag(state_root, monkeypatch):
    bed = "tbsigt"
    state_root.append(bed)
    real_run = testbed.run

    def run(argv, **kw):
        result = real_run(argv, **kw)
        if argv[:3] == ["ip", "link", "add"]:
            os.kill(os.getpid(), signal.SIGTERM)  # as `twin down` sends it to a `testbed up` at this moment
        return result

    def stop(signum, *_args):
        raise SystemExit(128 + signum)

    monkeypatch.setattr(testbed, "run", run)
    old = signal.signal(signal.SIGTERM, stop)
    try:
        with pytest.raises(SystemExit):
            testbed.network_up(bed, "10.254.254.0/28")
    finally:
        signal.signal(signal.SIGTERM, old)
    assert testbed.link_exists(testbed.bridge_name(bed))
    assert testbed.link_alias(testbed.bridge_name(bed)) == testbed.rule_tag(bed)
    assert testbed.network_down(bed)
    assert not testbed.link_exists(testbed.bridge_name(bed))


def test_down_removes_the_untagged_bridge_of_its_own_bed_and_no_other(state_root):
    own, foreign = "tbuntg", "tbforn"
    state_root.extend([own, foreign])
    for bed in (own, foreign):
        subprocess.run(["ip", "link", "add", testbed.bridge_name(bed), "type", "bridge"], check=True)
    os.makedirs(testbed.bed_dir(own))  # `up` was killed after making the bed's folder and the bridge, before tagging
    assert testbed.teardown(own)
    assert not testbed.link_exists(testbed.bridge_name(own))
    assert not testbed.teardown(foreign)  # not a bed of ours: someone else's bridge of that name stays
    assert testbed.link_exists(testbed.bridge_name(foreign))
