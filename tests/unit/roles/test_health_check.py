"""roles/airflow/files/health_check.py: the one-pass health check of a host (tasks/health.yml runs it there).

systemctl, the health endpoint and the database are faked; each case states what the script must report."""

import importlib.util
import io
import json
import os
import subprocess
import sys
import types

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "airflow", "files", "health_check.py")
UNITS = ["airflow-webserver", "airflow-scheduler", "airflow-worker"]
HEALTHY = {"metadatabase": {"status": "healthy"}, "scheduler": {"status": "healthy"}}


@pytest.fixture(name="check")
def fixture_check():
    spec = importlib.util.spec_from_file_location("health_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def show(states):
    """`systemctl show` output for {unit: {property: value}}, in the order given."""
    return "\n\n".join("\n".join(["Id=%s.service" % unit] + ["%s=%s" % kv for kv in props.items()])
                       for unit, props in states.items()) + "\n"


def active(restarts="0", invocation="a", since=0):
    return {"ActiveState": "active", "SubState": "running", "NRestarts": restarts, "InvocationID": invocation,
            "ActiveEnterTimestampMonotonic": str(since)}


class Host:
    """What the script sees: successive `systemctl show` answers (the last one repeats), /health, heartbeats."""

    def __init__(self, monkeypatch, check, shows, health=None, heartbeats=1, db_error=None):
        self.shows, self.calls = list(shows), []
        monkeypatch.setattr(check.subprocess, "run", self.run)
        monkeypatch.setattr(check, "urlopen", self.urlopen)
        self.clock = FakeTime()
        monkeypatch.setattr(check, "time", self.clock)
        self.health = HEALTHY if health is None else health
        fake = types.ModuleType("psycopg2")

        def connect(dsn):
            if db_error:
                raise RuntimeError(db_error)
            cursor = types.SimpleNamespace(execute=lambda sql, args: self.calls.append(("sql", args)),
                                           fetchone=lambda: (heartbeats,))
            return types.SimpleNamespace(cursor=lambda: Cursor(cursor), close=lambda: None)
        fake.connect = connect
        monkeypatch.setitem(sys.modules, "psycopg2", fake)

    def run(self, argv, **kwargs):
        self.calls.append(("systemctl", argv))
        out = self.shows[0] if len(self.shows) == 1 else self.shows.pop(0)
        return subprocess.CompletedProcess(argv, 0, show(out), "")

    def urlopen(self, url, timeout):
        self.calls.append(("url", url))
        if isinstance(self.health, Exception):
            raise self.health
        return io.BytesIO(json.dumps(self.health).encode())


class FakeTime:
    """A clock that sleeping moves on (the script's waits take no real time)."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class Cursor:
    def __init__(self, cursor):
        self.cursor = cursor

    def __enter__(self):
        return self.cursor

    def __exit__(self, *exc):
        return False


def run(check, capsys, monkeypatch, **request):
    body = {"units": UNITS, "url": "http://127.0.0.1:8080/health", "keys": ["metadatabase", "scheduler"],
            "heartbeat": True, "timeout": 5, "steady": 30}
    body.update(request)
    monkeypatch.setattr(sys, "argv", ["-c", json.dumps(body)])
    check.main()
    return json.loads(capsys.readouterr().out)


def steady_units(**overrides):
    states = {unit: active() for unit in UNITS}
    states.update(overrides)
    return states


def test_healthy_host_has_no_problems_and_asks_each_thing_once(check, capsys, monkeypatch):
    host = Host(monkeypatch, check, [steady_units()])
    got = run(check, capsys, monkeypatch)
    assert got["problems"] == []
    assert got["heartbeats"] == 1
    kinds = [call[0] for call in host.calls]
    assert kinds.count("url") == 1 and kinds.count("sql") == 1
    # One systemctl call reads every unit: before the checks, and once after them.
    assert kinds.count("systemctl") == 2
    assert all(unit + ".service" in host.calls[0][1] for unit in UNITS)


def test_unit_not_active_is_named_with_where_to_look(check, capsys, monkeypatch):
    Host(monkeypatch, check, [steady_units(**{"airflow-worker": {"ActiveState": "failed", "SubState": "failed"}})])
    got = run(check, capsys, monkeypatch)
    assert any("airflow-worker is failed" in p and "journalctl -u airflow-worker" in p for p in got["problems"])


def test_restart_during_the_check_is_a_crash_loop(check, capsys, monkeypatch):
    later = steady_units(**{"airflow-scheduler": active(restarts="1", invocation="b")})
    Host(monkeypatch, check, [steady_units(), later])
    got = run(check, capsys, monkeypatch)
    assert any("airflow-scheduler restarted during the health check" in p for p in got["problems"])


def test_unit_restarted_by_systemd_moments_ago_is_watched_and_a_crash_loop_caught(check, capsys, monkeypatch):
    now_us = int(FakeTime().now * 1e6)
    young = steady_units(**{"airflow-worker": active(restarts="3", since=now_us)})
    again = steady_units(**{"airflow-worker": active(restarts="4", invocation="b", since=now_us + 9 * 10 ** 6)})
    Host(monkeypatch, check, [young, young, young, again])
    got = run(check, capsys, monkeypatch, steady=30)
    assert any("airflow-worker restarted during the health check (active, 4 restarts)" in p for p in got["problems"])


def test_unit_restarted_by_systemd_moments_ago_that_stays_up_passes_once_steady(check, capsys, monkeypatch):
    young = steady_units(**{"airflow-worker": active(restarts="3", since=int(FakeTime().now * 1e6))})
    Host(monkeypatch, check, [young])
    got = run(check, capsys, monkeypatch, steady=30)
    assert got["problems"] == []
    assert got["seconds"] >= 30


def test_unit_restarted_by_systemd_long_ago_is_not_watched(check, capsys, monkeypatch):
    Host(monkeypatch, check, [steady_units(**{"airflow-worker": active(restarts="3", since=1)})])
    got = run(check, capsys, monkeypatch, steady=30)
    assert got["problems"] == []
    assert got["seconds"] < 1


def test_unhealthy_keys_are_listed(check, capsys, monkeypatch):
    Host(monkeypatch, check, [steady_units()], health={"metadatabase": {"status": "healthy"},
                                                       "scheduler": {"status": "unhealthy"}})
    got = run(check, capsys, monkeypatch)
    assert len(got["problems"]) == 1
    assert "reports scheduler not healthy" in got["problems"][0]


def test_no_answer_from_the_endpoint_names_every_key(check, capsys, monkeypatch):
    Host(monkeypatch, check, [steady_units()], health=OSError("connection refused"))
    got = run(check, capsys, monkeypatch)
    assert any("metadatabase, scheduler not healthy: connection refused" in p for p in got["problems"])


def test_no_heartbeat_and_a_failed_query_hide_the_password(check, capsys, monkeypatch):
    Host(monkeypatch, check, [steady_units()], db_error="could not connect: password=s3cret host=db")
    got = run(check, capsys, monkeypatch)
    problem = [p for p in got["problems"] if "SchedulerJob" in p][0]
    assert "s3cret" not in problem and "password=***" in problem


def test_without_web_component_or_scheduler_nothing_else_is_asked(check, capsys, monkeypatch):
    host = Host(monkeypatch, check, [{"airflow-worker": active()}])
    got = run(check, capsys, monkeypatch, units=["airflow-worker"], url="", heartbeat=False)
    assert got["problems"] == []
    assert [call[0] for call in host.calls] == ["systemctl", "systemctl"]
