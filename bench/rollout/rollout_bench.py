#!/usr/bin/env python3
"""bench/rollout: a rolling update (surge 2 / unavailable 0) against the recreate
strategy on the same deployment in the same run (not a test).

For 10 and 100 replicas of a busybox httpd with an HTTP health check (process
driver, pool 127.86.0.0/16, loopback only), one deployment is created and brought
to READY, then updated twice while `volar deployments list --json` is polled
every 50 ms:

  * recreate: `deployments update bench --env GEN=2` (strategy recreate);
  * rolling:  `deployments update bench --env GEN=3 --strategy rolling
    --max-surge 2 --max-unavailable 0` (termination grace: the default 2 s);
  * the same with `--termination-grace 0` (GEN=4): the planner's own pace, the
    drain taken out.

For each: the time from the update to the rollout being complete (the
deployment's `rollout.phase` complete at the new revision, every replica ready),
the fewest READY replicas and the most VMs seen while it ran. The ratio is
rolling time / recreate time: what keeping every replica serving costs.

Usage: bench/rollout/run.sh [--build DIR] [--sizes 10,100] [--results FILE]
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from volant_bench import (Daemon, Say, http_health_plugin, install_plugin, kill_workloads,  # noqa: E402
                          load_avg, mono, replace_section, uname_sr)

POOL = "127.86.0.0/16"


def show(d, name):
    r = d.volar("deployments", "show", name, "--json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def watch_update(d, name, args, revision, timeout):
    """Runs `volar deployments update NAME ARGS`, then polls every 50 ms until the
    rollout of `revision` is complete; returns (seconds, min ready, max VMs, done)."""
    t0 = mono()
    d.volar("deployments", "update", name, *args)
    min_ready, max_vms = 1 << 30, 0
    done = False
    while mono() - t0 < timeout:
        s = show(d, name)
        if s is not None:
            min_ready = min(min_ready, s["ready"])
            max_vms = max(max_vms, s["current"])
            r = s.get("rollout", {})
            if (s["revision"] == revision and r.get("phase") == "complete"
                    and s["ready"] == s["desired"] == s["current"]):
                done = True
                break
        time.sleep(0.05)
    return mono() - t0, min_ready, max_vms, done


def run_size(build, n, say, rows):
    data = tempfile.mkdtemp(prefix="volant-bench-rollout-")
    d = Daemon(os.path.join(build, "src/daemon/volantd"), os.path.join(build, "src/cli/volar"),
               data, os.path.join(data, "volantd.log"), POOL,
               ["--memory-mib", "100000", "--cpus", "1000", "--max-replicas", "1000",
                "--max-vms", "1000", "--log-level", "warn"], error=SystemExit)
    try:
        install_plugin(d, http_health_plugin("bench-rollout", "bench/rollout", "-f"),
                       os.path.join(data, "plugin.json"))
        t0 = mono()
        d.volar("deployments", "create", "bench", "--plugin", "bench-rollout",
                "--replicas", str(n), "--memory", "16", "--wait", "--timeout", "600")
        say("%d replicas: created and READY in %.1f s" % (n, mono() - t0))
        timeout = max(120, n * 6)
        rec = watch_update(d, "bench", ["--env", "GEN=2"], 2, timeout)
        roll = watch_update(d, "bench", ["--env", "GEN=3", "--strategy", "rolling",
                                         "--max-surge", "2", "--max-unavailable", "0"], 3,
                            timeout)
        fast = watch_update(d, "bench", ["--env", "GEN=4", "--termination-grace", "0"], 4,
                            timeout)
        rows.append((n, rec, roll, fast))
    finally:
        try:
            d.shut_down(lambda line: print(line, file=sys.stderr), timeout=120)
        finally:
            kill_workloads(data, groups=True)
            shutil.rmtree(data, ignore_errors=True)
            shutil.rmtree(d.run_dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--sizes", default="10,100")
    ap.add_argument("--results", default="")
    ap.add_argument("--command", default=" ".join(sys.argv))
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    say = Say()
    say("host: %d CPUs, %s, load average %s at start" % (os.cpu_count(), uname_sr(), load_avg()))
    rows = []
    for n in [int(x) for x in a.sizes.split(",") if x]:
        run_size(build, n, say, rows)
    say("")
    say("| replicas | strategy | update -> rollout complete | fewest READY | most VMs | ratio rolling / recreate |")
    say("|---|---|---|---|---|---|")
    for n, rec, roll, fast in rows:
        mark = lambda r: "" if r[3] else " (NOT complete)"  # noqa: E731
        say("| %d | recreate | %.1f s%s | %d | %d | |" % (n, rec[0], mark(rec), rec[1], rec[2]))
        say("| %d | rolling, surge 2 / unavailable 0 | %.1f s%s | %d | %d | %.1fx |"
            % (n, roll[0], mark(roll), roll[1], roll[2], roll[0] / rec[0]))
        say("| %d | the same, --termination-grace 0 | %.1f s%s | %d | %d | %.1fx |"
            % (n, fast[0], mark(fast), fast[1], fast[2], fast[0] / rec[0]))
    if a.results:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        section = ["## bench/rollout", "",
                   "Latest run: %s (commit %s)." % (stamp, commit or "?"), "",
                   "Command: `%s`" % a.command, "",
                   "A rolling update (surge 2 / unavailable 0, termination grace 2 s) "
                   "against the recreate strategy on the same deployment in the same "
                   "run: busybox httpd with an HTTP health check (interval 1 s), process "
                   "driver, pool 127.86.0.0/16; `deployments show --json` polled every "
                   "50 ms from the update until the rollout is complete.", ""] + say.lines + [""]
        replace_section(a.results, "## bench/rollout", section)


if __name__ == "__main__":
    main()
