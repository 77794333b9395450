"""Start or stop the scenario's moto server (files/moto_server.py) on a free 127.0.0.1 port.

  moto_ctl.py start STATE_DIR   start it, wait until it answers, write STATE_DIR/{moto.pid,moto.port,aws_config}
  moto_ctl.py stop STATE_DIR    stop the process recorded in STATE_DIR/moto.pid (only that one) and forget it

aws_config is an AWS config file whose endpoint_url sends every boto3 client (modules, the aws_ec2 inventory
plugin, the checks) to moto; the scenario exports AWS_CONFIG_FILE pointing at it.

moto's request recorder writes to STATE_DIR/moto_recording.jsonl; it records only between POST
/moto-api/recorder/start-recording and stop-recording (tests use it to see exactly what a run sent to AWS).
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(state_dir):
    os.makedirs(state_dir, exist_ok=True)
    pid_file = os.path.join(state_dir, "moto.pid")
    if os.path.exists(pid_file):
        print("already running: %s" % open(pid_file).read().strip())
        return 0
    port = free_port()
    log = open(os.path.join(state_dir, "moto.log"), "ab")
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "moto_server.py"), str(port)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        env=dict(os.environ, MOTO_RECORDER_FILEPATH=os.path.join(state_dir, "moto_recording.jsonl")),
    )
    url = "http://127.0.0.1:%d" % port
    for attempt in range(100):
        if proc.poll() is not None:
            sys.exit("moto server exited with %s, see %s/moto.log" % (proc.returncode, state_dir))
        try:
            urllib.request.urlopen(url + "/moto-api/data.json", timeout=1).read()
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.terminate()
        sys.exit("moto server did not answer on %s" % url)
    with open(pid_file, "w") as handle:
        handle.write("%d\n" % proc.pid)
    with open(os.path.join(state_dir, "moto.port"), "w") as handle:
        handle.write("%d\n" % port)
    with open(os.path.join(state_dir, "aws_config"), "w") as handle:
        handle.write("[default]\nendpoint_url = %s\n" % url)
    print("moto server pid %d on %s" % (proc.pid, url))
    return 0


def stop(state_dir):
    pid_file = os.path.join(state_dir, "moto.pid")
    if not os.path.exists(pid_file):
        print("not running")
        return 0
    pid = int(open(pid_file).read().strip())
    try:
        os.kill(pid, signal.SIGTERM)
        for tick in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for name in ("moto.pid", "moto.port", "aws_config"):
        path = os.path.join(state_dir, name)
        if os.path.exists(path):
            os.remove(path)
    print("moto server pid %d stopped" % pid)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit(__doc__)
    sys.exit(start(sys.argv[2]) if sys.argv[1] == "start" else stop(sys.argv[2]))
