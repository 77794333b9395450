"""Load through the load balancer while something else runs (the site scenario's rolling-change test).

Until the stop file appears (or --max-seconds pass): GET /health through the load balancer every --poll-every
seconds, and trigger a run of --dag through Airflow's REST API (basic auth, the admin user) every --trigger-every
seconds. The load balancer is reached by its DNS name, sent as the Host header to --address (what that name resolves
to in the VPC's DNS: the controller does not use that DNS). Prints one JSON document when it stops:
  {"seconds": ..., "health_checks": N, "health_failed": N, "health_failures": [{"at": t, "why": "..."}, ...(20 at most)],
   "scheduler_unhealthy": N, "scheduler_unhealthy_longest": seconds,
   "triggered": ["<run id>", ...], "trigger_failures": [{"at": t, "why": "..."}]}
A health check fails when the answer is not HTTP 200 with the metadatabase "healthy" (what an ALB's health check
and a user see as an error). An HTTP 200 that says the scheduler is unhealthy is counted apart, with its longest
stretch: Airflow 2.0.2's /health reports the SchedulerJob with the newest heartbeat, and a scheduler that stops
gracefully writes the newest one as it ends, so /health says "unhealthy" until another scheduler heartbeats again
(BaseJob.most_recent_job orders by latest_heartbeat only, whatever the job's state).
The password comes from the environment variable named by --password-env (never the command line).
Standard library only.
"""
import argparse
import base64
import http.client
import json
import os
import sys
import time


def request(args, method, path, body=None, auth=None):
    conn = http.client.HTTPConnection(args.address, args.port, timeout=args.timeout)
    headers = {"Host": args.name, "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body)
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def check_health(args):
    """(why it failed or None, whether the scheduler was reported healthy)."""
    try:
        status, text = request(args, "GET", "/health")
    except OSError as exc:
        return "%s: %s" % (type(exc).__name__, exc), False
    if status != 200:
        return "HTTP %d: %s" % (status, text[:200]), False
    try:
        health = json.loads(text)
    except ValueError:
        return "not JSON: %s" % text[:200], False
    if (health.get("metadatabase") or {}).get("status") != "healthy":
        return "metadatabase unhealthy: %s" % text[:300], False
    return None, (health.get("scheduler") or {}).get("status") == "healthy"


def trigger(args, auth, run_id):
    """None when the run was created, else why not."""
    try:
        status, text = request(args, "POST", "/api/v1/dags/%s/dagRuns" % args.dag, {"dag_run_id": run_id}, auth)
    except OSError as exc:
        return "%s: %s" % (type(exc).__name__, exc)
    return None if status == 200 else "HTTP %d: %s" % (status, text[:200])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True, help="the load balancer's DNS name (sent as Host)")
    p.add_argument("--address", required=True, help="the address that name resolves to in the VPC")
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--user", default="admin")
    p.add_argument("--password-env", default="SITE_LB_PASSWORD")
    p.add_argument("--dag", default="ha_quick")
    p.add_argument("--prefix", required=True, help="run ids are <prefix>-<n>")
    p.add_argument("--stop-file", required=True)
    p.add_argument("--poll-every", type=float, default=0.5)
    p.add_argument("--trigger-every", type=float, default=10.0)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds one request may take")
    p.add_argument("--max-seconds", type=float, default=3600.0)
    args = p.parse_args()
    auth = "%s:%s" % (args.user, os.environ.get(args.password_env, ""))

    started = time.monotonic()
    result = {"health_checks": 0, "health_failed": 0, "health_failures": [], "scheduler_unhealthy": 0,
              "scheduler_unhealthy_longest": 0.0, "triggered": [], "trigger_failures": []}
    unhealthy_since = None
    next_trigger = started
    n = 0
    while not os.path.exists(args.stop_file) and time.monotonic() - started < args.max_seconds:
        now = time.monotonic()
        if now >= next_trigger:
            n += 1
            run_id = "%s-%d" % (args.prefix, n)
            why = trigger(args, auth, run_id)
            if why:
                result["trigger_failures"].append({"at": round(now - started, 1), "run": run_id, "why": why})
            else:
                result["triggered"].append(run_id)
            next_trigger = now + args.trigger_every
        why, scheduler_ok = check_health(args)
        result["health_checks"] += 1
        if why is None and not scheduler_ok:
            result["scheduler_unhealthy"] += 1
            unhealthy_since = time.monotonic() if unhealthy_since is None else unhealthy_since
            result["scheduler_unhealthy_longest"] = max(result["scheduler_unhealthy_longest"],
                                                        round(time.monotonic() - unhealthy_since, 1))
        elif why is None:
            unhealthy_since = None
        if why:
            result["health_failed"] += 1
            if len(result["health_failures"]) < 20:  # the first ones say enough; the count says how many
                result["health_failures"].append({"at": round(time.monotonic() - started, 1), "why": why})
        time.sleep(args.poll_every)
    result["seconds"] = round(time.monotonic() - started, 1)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
