"""The collection's own metadata is consistent: every module named in an action group exists, and back."""

import os

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _load(path):
    with open(os.path.join(ROOT, path)) as handle:
        return yaml.safe_load(handle)


def test_galaxy_identity():
    galaxy = _load("galaxy.yml")
    assert (galaxy["namespace"], galaxy["name"]) == ("ha_airflow", "aws")
    assert galaxy["version"].count(".") == 2


def test_action_groups_match_modules():
    runtime = _load("meta/runtime.yml")
    grouped = {name for names in runtime.get("action_groups", {}).values() for name in names}
    modules_dir = os.path.join(ROOT, "plugins", "modules")
    present = {f[:-3] for f in os.listdir(modules_dir) if f.endswith(".py") and not f.startswith("_")}
    assert present <= grouped, "modules missing from meta/runtime.yml action_groups: %s" % sorted(present - grouped)
