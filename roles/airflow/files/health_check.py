# Copyright: contributors to ha_airflow.aws
# Apache License 2.0 (see galaxy.yml)
"""The health of the Airflow components on this host, in one pass (roles/airflow/tasks/health.yml runs it).

Run by the Python of Airflow's virtualenv (it has psycopg2; Python 3.6 or later, standard library otherwise), as
root, with one argument: JSON {"units": ["airflow-webserver", ...], "url": "http://127.0.0.1:8080/health" or "",
"keys": ["metadatabase", "scheduler"], "heartbeat": true, "timeout": 180, "steady": 30}. The metadata database is
reached through libpq's PG* environment variables. Read-only. Waits, up to "timeout" seconds each, for:

1. every unit active;
2. the health endpoint (when "url") reporting every one of "keys" healthy;
3. this host's scheduler (when "heartbeat") running and heartbeating in the database in the last 30 s;

then reads the units again: none may have restarted meanwhile. Before that last read, a unit that systemd restarted
on its own since it was last started (NRestarts > 0) and that came up less than "steady" seconds ago is watched until
it has been up that long: a crash loop does not pass because it happened to be up when looked at.

Prints one JSON line: {"problems": [what is wrong, and where to look], "units": {...}, "health": the endpoint's
answer, "heartbeats": n, "fqdn": ..., "seconds": ...}; exits 0 whatever it found (the task's assert judges).
"""

import json
import re
import socket
import subprocess
import sys
import time
from urllib.request import urlopen

PROPERTIES = ("Id", "ActiveState", "SubState", "NRestarts", "InvocationID", "ActiveEnterTimestampMonotonic")
HEARTBEAT = ("SELECT count(*) FROM job WHERE job_type = 'SchedulerJob' AND state = 'running'"
             " AND hostname = %s AND latest_heartbeat > now() - interval '30 seconds'")


def unit_states(units):
    """{unit: {property: value}} from one `systemctl show` of every unit."""
    argv = ["systemctl", "show", "--property=" + ",".join(PROPERTIES)] + [unit + ".service" for unit in units]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    states = {}
    for block in proc.stdout.split("\n\n"):
        state = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if state.get("Id"):
            states[state["Id"][:-len(".service")] if state["Id"].endswith(".service") else state["Id"]] = state
    return {unit: states.get(unit, {"ActiveState": "unknown", "SubState": proc.stderr.strip()}) for unit in units}


def active_for(state):
    """Seconds since the unit last became active (CLOCK_MONOTONIC, as systemd counts)."""
    try:
        return time.monotonic() - int(state.get("ActiveEnterTimestampMonotonic") or 0) / 1e6
    except ValueError:
        return 0.0


def ask_health(url, keys):
    """(answer, the keys not healthy, error)."""
    try:
        with urlopen(url, timeout=30) as response:
            answer = json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        return None, list(keys), str(exc)
    if not isinstance(answer, dict):
        return answer, list(keys), "not a JSON object"
    unhealthy = [key for key in keys if not (isinstance(answer.get(key), dict)
                                             and answer[key].get("status") == "healthy")]
    return answer, unhealthy, ""


def count_heartbeats(fqdn):
    """(running SchedulerJobs of this host that heartbeat in the last 30 s, error)."""
    try:
        import psycopg2  # pylint: disable=import-outside-toplevel
        conn = psycopg2.connect("")
        try:
            with conn.cursor() as cur:
                cur.execute(HEARTBEAT, (fqdn,))
                return int(cur.fetchone()[0]), ""
        finally:
            conn.close()
    except Exception as exc:  # pylint: disable=broad-except  # any failure is the answer: report it
        return 0, re.sub(r"password=\S+", "password=***", str(exc).strip().splitlines()[-1] if str(exc).strip() else
                         type(exc).__name__)


def wait(check, seconds):
    """Call check() until it returns a true first item or `seconds` have passed; its last answer."""
    deadline = time.monotonic() + seconds
    while True:
        answer = check()
        if answer[0] or time.monotonic() >= deadline:
            return answer
        time.sleep(1)


def main():
    request = json.loads(sys.argv[1])
    units, timeout, steady = request["units"], float(request["timeout"]), float(request.get("steady", 30))
    start = time.monotonic()
    problems = []
    journal = "read `journalctl -u %s -n 100` there"

    def all_active():
        states = unit_states(units)
        return all(s.get("ActiveState") == "active" for s in states.values()), states

    ok, before = wait(all_active, timeout)
    for unit, state in sorted(before.items()):
        if state.get("ActiveState") != "active":
            problems.append("%s is %s (%s); %s." % (unit, state.get("ActiveState", "unknown"), state.get("SubState", ""),
                                                    journal % unit))

    result = {"health": None, "heartbeats": None, "fqdn": None}
    if request.get("url"):
        def healthy():
            answer, unhealthy, error = ask_health(request["url"], request["keys"])
            return not unhealthy, answer, unhealthy, error
        ok, answer, unhealthy, error = wait(healthy, timeout)
        result["health"] = answer
        if not ok:
            problems.append(
                "%s reports %s not healthy: %s. An unhealthy metadatabase means the database settings (airflow_db_*) or "
                "its network path are wrong; an unhealthy scheduler, triggerer or dag_processor means none of them "
                "heartbeats: read `journalctl -u airflow-<component> -n 100` on the hosts (dag_processor is the "
                "dag-processor)." % (request["url"], ", ".join(unhealthy), error or json.dumps(answer, sort_keys=True)))

    if request.get("heartbeat"):
        fqdn = socket.getfqdn()
        result["fqdn"] = fqdn

        def heartbeating():
            count, error = count_heartbeats(fqdn)
            return count > 0, count, error
        ok, count, error = wait(heartbeating, timeout)
        result["heartbeats"] = count
        if not ok:
            problems.append(
                "The scheduler here (%s) has no running SchedulerJob with a heartbeat in the last 30 s%s: it is "
                "crash-looping or cannot reach the database; %s." % (
                    fqdn, " (the database query failed: %s)" % error if error else "", journal % "airflow-scheduler"))

    # A unit restarted by systemd since its last start must have stayed up `steady` seconds.
    def settled():
        states = unit_states(units)
        young = [u for u, s in states.items() if s.get("NRestarts", "0") not in ("", "0") and active_for(s) < steady]
        return not young, states

    after = unit_states(units) if problems else wait(settled, steady)[1]
    for unit in sorted(units):
        was, now = before[unit], after[unit]
        if was.get("ActiveState") != "active":
            continue
        if (now.get("ActiveState") != "active" or now.get("NRestarts") != was.get("NRestarts")
                or now.get("InvocationID") != was.get("InvocationID")):
            problems.append("%s restarted during the health check (%s, %s restarts): it is crash-looping; %s." % (
                unit, now.get("ActiveState"), now.get("NRestarts", "?"), journal % unit))
    result.update(problems=problems, seconds=round(time.monotonic() - start, 1),
                  units={unit: {"before": before[unit], "after": after[unit]} for unit in units})
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
