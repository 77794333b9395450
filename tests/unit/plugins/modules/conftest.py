"""Fixtures shared by the module unit tests; pytest finds them here by name, no import needed."""

import stat

import pytest


@pytest.fixture
def venv(tmp_path):
    """A fake Airflow virtual environment: bin/airflow whose #! names bin/python3.7."""
    bindir = tmp_path / "venv" / "bin"
    bindir.mkdir(parents=True)
    python = bindir / "python3.7"
    python.write_text("")
    airflow = bindir / "airflow"
    airflow.write_text("#!%s\n# -*- coding: utf-8 -*-\n" % python)
    for path in (python, airflow):
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return dict(airflow=str(airflow), python=str(python), bindir=str(bindir))
