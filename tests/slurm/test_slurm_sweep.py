#!/usr/bin/python3
"""swarm-sim sweep --on slurm against a real single-node Slurm, started and stopped here.

munged, slurmctld and slurmd from Debian's packages run under a temporary folder with a
generated slurm.conf (proctrack/linuxproc, ports of their own), so nothing of the machine's
own Slurm, if any, is touched. A 2 x 3 sweep goes to it as one job array, with one run made to
fail (its run folder is taken by a file); sweep-status names the failure with its stderr, the
same sweep command submits that run alone once the cause is gone, and the summaries then
equal, byte for byte, those of the same sweep run by the local pool.

Exits 77 (ctest: skipped) with the reason when Slurm cannot run here: not root, a package
missing, or daemons that do not come up.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

SIM = os.environ.get("SWARMLAB_SIM", "build/release/sim/swarm-sim")
SKIP = 77

SCENARIO = {
    "name": "slurm-sweep", "seed": 1,
    "files": [{"name": "f.bin", "size": "4MiB", "chunk_size": "512KiB"}],
    "groups": [
        {"name": "seed", "count": 1, "role": "seeder", "up": "20Mbps", "down": "20Mbps", "delay": "10ms"},
        {"name": "leech", "count": 5, "role": "leecher", "up": "8Mbps", "down": "32Mbps", "delay": "10ms"},
    ],
    "stop": {"time": "5min", "when_all_done": True},
}
VARY = ["--vary", "strategy.chunk=rarest-first,random", "--seeds", "1..3"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Slurm:
    """A private single-node Slurm under `root`; every daemon it starts, it stops by PID."""

    def __init__(self, root):
        self.root = root
        self.procs = []
        self.env = dict(os.environ, SLURM_CONF=os.path.join(root, "slurm.conf"))

    def start(self):
        """None when up, else why it cannot run here."""
        if os.geteuid() != 0:
            return "needs root (slurmd runs the tasks as their user)"
        for tool in ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo"]:
            if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
                return f"{tool} is not installed (Debian: slurmctld slurmd slurm-client munge)"
        r = self.root
        for d in ["state", "spool", "log"]:
            os.makedirs(os.path.join(r, d))
        key = os.path.join(r, "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        sock = os.path.join(r, "munge.sock")
        self.procs.append(subprocess.Popen(
            ["/usr/sbin/munged", "--foreground", "--force", f"--key-file={key}", f"--socket={sock}",
             f"--pid-file={r}/munged.pid", f"--log-file={r}/log/munged.log", f"--seed-file={r}/munge.seed"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(r, "log", "munged.err"), "w")))
        host = socket.gethostname()
        conf = f"""ClusterName=swarmlab-test
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={sock}
CredType=cred/munge
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName={host} CPUs={os.cpu_count()} State=UNKNOWN
PartitionName=sweeps Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""
        with open(self.env["SLURM_CONF"], "w") as f:
            f.write(conf)
        deadline = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not os.path.exists(sock):
            return "munged did not start: " + self.log("munged.err")
        for daemon, log in [("slurmctld", "ctld.err"), ("slurmd", "slurmd.err")]:
            self.procs.append(subprocess.Popen(
                [f"/usr/sbin/{daemon}", "-D", "-f", self.env["SLURM_CONF"]], env=self.env,
                stdout=subprocess.DEVNULL, stderr=open(os.path.join(r, "log", log), "w")))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env, capture_output=True, text=True)
            if out.returncode == 0 and out.stdout.strip() in ("idle", "mixed", "allocated"):
                return None
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.5)
        return ("Slurm did not come up: " + self.log("slurmctld.log") + " / " + self.log("slurmd.log"))

    def log(self, name):
        try:
            with open(os.path.join(self.root, "log", name)) as f:
                return " | ".join(f.read().strip().splitlines()[-3:])
        except OSError:
            return "(no log)"

    def stop(self):
        # Jobs first: a task's slurmstepd outlives slurmd by design.
        if len(self.procs) == 3 and all(p.poll() is None for p in self.procs):
            subprocess.run(["scancel", "--full", "-u", "root"], env=self.env, capture_output=True, timeout=30)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                q = subprocess.run(["squeue", "-h"], env=self.env, capture_output=True, text=True, timeout=30)
                if q.returncode != 0 or not q.stdout.strip():
                    break
                time.sleep(0.5)
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


class SlurmSweep(unittest.TestCase):
    slurm = None

    def run_sim(self, *args, env=None):
        # Well under ctest's 300 s, so that a hang still ends in stop() below.
        return subprocess.run([SIM, *args], capture_output=True, text=True, timeout=90,
                              env=env or self.slurm.env)

    def test_a_sweep_on_slurm_equals_the_local_one_and_failed_runs_go_again_alone(self):
        tmp = self.tmp
        scenario = os.path.join(tmp, "s.json")
        with open(scenario, "w") as f:
            json.dump(SCENARIO, f)
        on_slurm, local = os.path.join(tmp, "slurm-sweep"), os.path.join(tmp, "local-sweep")
        # One run cannot write its folder: a file has its name.
        broken = os.path.join(on_slurm, "strategy.chunk=random_seed2")
        os.makedirs(on_slurm)
        with open(broken, "w") as f:
            f.write("in the way\n")

        sub = self.run_sim("sweep", scenario, *VARY, "--on", "slurm", "--out", on_slurm)
        self.assertEqual(sub.returncode, 0, sub.stderr)
        self.assertRegex(sub.stdout, r"Submitted 6 runs as Slurm job array \d+")
        status = self.run_sim("sweep-status", on_slurm, "--wait")
        self.assertEqual(status.returncode, 1, status.stdout + status.stderr)
        self.assertIn("5/6 done, 0 running, 0 waiting, 1 failed", status.stderr)
        self.assertRegex(status.stdout, r"FAILED .*strategy\.chunk=random_seed2 \(Slurm job \d+, task \d+\)")
        self.assertIn("submits the failed runs again, alone", status.stdout)

        os.remove(broken)
        again = self.run_sim("sweep", scenario, *VARY, "--on", "slurm", "--out", on_slurm)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertRegex(again.stdout, r"Submitted 1 runs as Slurm job array \d+ \(5 already done, kept\)")
        status = self.run_sim("sweep-status", on_slurm, "--wait")
        self.assertEqual(status.returncode, 0, status.stdout + status.stderr)
        self.assertIn("6/6 done", status.stderr)
        self.assertRegex(status.stdout, r"strategy\.chunk=random\s+3/3\s+15/15")

        pool = self.run_sim("sweep", scenario, *VARY, "--jobs", "2", "--out", local)
        self.assertEqual(pool.returncode, 0, pool.stderr)
        with open(os.path.join(on_slurm, "index.json")) as f:
            slurm_index = json.load(f)
        with open(os.path.join(local, "index.json")) as f:
            local_index = json.load(f)
        self.assertEqual(slurm_index, local_index)
        for e in local_index:
            with open(os.path.join(on_slurm, e["dir"], "summary.json"), "rb") as a, \
                    open(os.path.join(local, e["dir"], "summary.json"), "rb") as b:
                self.assertEqual(a.read(), b.read(), e["dir"])

    def test_sweep_status_of_a_folder_not_sent_to_slurm_says_so(self):
        r = self.run_sim("sweep-status", self.tmp)
        self.assertEqual(r.returncode, 2)
        self.assertIn("is not a sweep submitted to Slurm (no slurm/job.json)", r.stderr)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="swarmlab-slurm-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    # ctest's timeout sends SIGTERM: end through finally, which stops the daemons.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    root = tempfile.mkdtemp(prefix="swarmlab-slurm-")
    slurm = Slurm(root)
    try:
        why = slurm.start()
        if why:
            print(f"SKIPPED: a private Slurm cannot run here: {why}")
            return SKIP
        SlurmSweep.slurm = slurm
        result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
        return 0 if result.wasSuccessful() else 1
    finally:
        slurm.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
