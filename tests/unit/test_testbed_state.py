"""tools/testbed/testbed's bookkeeping of beds: which beds block a new base, and which are stale (left by an earlier
boot of the machine, as a CI machine made from a snapshot of this one finds them). No machine is booted."""

import importlib.machinery
import importlib.util
import json
import os

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_LOADER = importlib.machinery.SourceFileLoader("testbed_tool", os.path.join(ROOT, "tools", "testbed", "testbed"))
testbed = importlib.util.module_from_spec(importlib.util.spec_from_loader(_LOADER.name, _LOADER))
_LOADER.exec_module(testbed)


@pytest.fixture()
def beds(tmp_path, monkeypatch):
    monkeypatch.setattr(testbed, "BEDS_DIR", str(tmp_path / "beds"))

    def make(name, **state):
        path = tmp_path / "beds" / name
        path.mkdir(parents=True)
        (path / "state.json").write_text(json.dumps(dict(bed=name, machines=[], **state)))
    return make, tmp_path


def test_only_beds_on_a_base_in_this_cache_block_it(beds):
    make, tmp = beds
    mine, other = str(tmp / "mine"), str(tmp / "other")
    make("a", base=os.path.join(mine, "base-1"))
    make("b", base=os.path.join(other, "base-1"))  # another checkout's cache
    make("c")  # made before beds recorded their base
    assert testbed.beds_on_bases_in(mine) == ["a"]
    assert testbed.beds_on_bases_in(other) == ["b"]


def test_beds_of_an_earlier_boot_are_removed_and_no_others(beds, monkeypatch):
    make, _tmp = beds
    removed = []
    monkeypatch.setattr(testbed, "teardown", removed.append)
    make("now", boot_id=testbed.boot_id())
    make("before", boot_id="another-boot")
    make("legacy")  # no boot_id: made before beds recorded it
    os.makedirs(os.path.join(testbed.BEDS_DIR, "creating"))  # no state yet: another `up` is making it
    testbed.drop_stale_beds()
    assert sorted(removed) == ["before", "legacy"]
