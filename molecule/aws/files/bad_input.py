"""Bad input is rejected before any AWS call that creates: run playbooks/provision.yml once per case and require
that it fails, and fails in argument validation or in a "Preflight |" task (tasks/preflight.yml: no AWS call has
been made yet). The caller then checks that moto holds nothing of the cluster ("badinput").

  bad_input.py PROJECT_DIR OUTPUTS_DIR
"""

import concurrent.futures
import json
import os
import subprocess
import sys

GOOD = {
    "infra_region": "cn-north-1",
    "infra_cluster_name": "badinput",
    "infra_rds_password": "moto-only-Passw0rd",
    "infra_alb_ingress_cidrs": ["10.0.0.0/8"],
}

CASES = {
    "missing password": ({}, ["infra_rds_password"]),
    "password too short": ({"infra_rds_password": "short"}, []),
    "overlapping subnet CIDRs": ({"infra_private_subnet_cidrs": ["10.20.1.0/24", "10.20.1.128/25"]}, []),
    "subnet CIDR outside the VPC": ({"infra_public_subnet_cidrs": ["10.20.101.0/24", "10.99.0.0/24"]}, []),
    "one subnet instead of two AZs": (
        {"infra_vpc_id": "vpc-0123456789abcdef0", "infra_private_subnet_ids": ["subnet-0123456789abcdef0"],
         "infra_public_subnet_ids": ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]}, []),
    "one AZ twice": ({"infra_availability_zones": ["cn-north-1a", "cn-north-1a"]}, []),
    "invalid instance type": ({"infra_instance_type": "m5large"}, []),
    "invalid RDS engine version": ({"infra_rds_engine_version": "fifteen"}, []),
    "invalid Redis engine version": ({"infra_redis_engine_version": "7"}, []),
    "region not in the chosen partition": ({"infra_region": "us-east-1", "infra_partition": "aws-cn"}, []),
    "not a region": ({"infra_region": "china-north"}, []),
    "TLS without an AUTH token": ({"infra_redis_transit_encryption": True}, []),
    "no load balancer CIDRs": ({"infra_alb_ingress_cidrs": []}, []),
}


def run(project, outputs, name, overrides, drop):
    extra = dict(GOOD, infra_outputs_file=os.path.join(outputs, "badinput.yml"))
    extra.update(overrides)
    for key in drop:
        extra.pop(key)
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_CALLBACKS_ENABLED="")
    proc = subprocess.run(
        ["ansible-playbook", os.path.join(project, "playbooks", "provision.yml"), "-e", json.dumps(extra)],
        cwd=project, env=env, capture_output=True, text=True, check=False,
    )
    failed_task = None
    aws_tasks = []
    try:
        report = json.loads(proc.stdout)
        for play in report["plays"]:
            for task in play["tasks"]:
                result = task["hosts"].get("localhost", {})
                task_name = task["task"]["name"].split(" : ", 1)[-1]
                module = result.get("invocation", {}).get("module_args") is not None
                if result.get("failed"):
                    failed_task = task_name
                    break
                if module and not task_name.startswith(("Preflight |", "Validating arguments")):
                    aws_tasks.append(task_name)
    except (ValueError, KeyError) as exc:
        return name, False, "unreadable ansible output (%s): %s" % (exc, proc.stderr[-500:])
    ok = (
        proc.returncode != 0
        and failed_task is not None
        and failed_task.startswith(("Preflight |", "Validating arguments"))
        and not aws_tasks
    )
    return name, ok, "rc=%s, failed in %r, AWS tasks before it: %s" % (proc.returncode, failed_task, aws_tasks)


def main():
    project, outputs = sys.argv[1], sys.argv[2]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda item: run(project, outputs, item[0], *item[1]), CASES.items()))
    for name, ok, detail in results:
        print("%s %-36s %s" % ("ok  " if ok else "FAIL", name, detail))
    if os.path.exists(os.path.join(outputs, "badinput.yml")):
        print("FAIL an outputs file was written")
        return 1
    return 0 if all(ok for name, ok, detail in results) else 1


if __name__ == "__main__":
    sys.exit(main())
