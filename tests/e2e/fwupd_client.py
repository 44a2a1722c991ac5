#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The client side of an end-to-end run, started by usbsim-run under the device simulation.

Runs Debian's fwupdtool (through tests/run-fwupdtool, loading our modules) to list the
devices, optionally install a file on the device our plugin created, and list them again.
Writes what it saw as JSON, so the test outside can check it against the simulator's flash
dump and trace. Its own exit status is fwupdtool's install status (0 when not installing).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fwupdtool(build, args, timeout, stream=False):
    cmd = [os.path.join(TOP, "tests", "run-fwupdtool"), build] + args
    if stream:
        # let a person watch fwupdtool's own progress, and keep it for the result
        lines = []
        with subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) as proc:
            for line in proc.stderr:
                if not line.startswith("Loading"):
                    sys.stderr.write(line)
                    sys.stderr.flush()
                lines.append(line)
            rc = proc.wait(timeout=timeout)
        return rc, "", "".join(lines)
    proc = subprocess.run(cmd, timeout=timeout, capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


# how many more times --retry lists the devices, 0.5 s apart, when none is back after the failure
RETRY_LOOKS = 20

# every plugin fwupd has, or only ours (faster, and what a user's --plugins would do)
PLUGIN_FILTER = True


def find_devices(build, plugin, timeout, all_devices=None):
    args = ["get-devices", "--json"]
    if PLUGIN_FILTER:
        args += ["--plugins", plugin]
    rc, out, err = fwupdtool(build, args, timeout)
    if rc != 0:
        return [], err
    try:
        devices = json.loads(out).get("Devices", [])
    except json.JSONDecodeError:
        return [], out + err
    if all_devices is not None:
        all_devices.extend(devices)
    return [d for d in devices if d.get("Plugin") == plugin], err


def summary(dev):
    return {
        "DeviceId": dev.get("DeviceId"),
        "Name": dev.get("Name"),
        "Version": dev.get("Version"),
        "VersionBootloader": dev.get("VersionBootloader"),
        "Guid": dev.get("Guid", []),
        "InstanceIds": dev.get("InstanceIds", []),
        "Flags": dev.get("Flags", []),
        "Protocols": dev.get("Protocols", []),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--plugin", default="dfu_core")
    parser.add_argument("--install")
    parser.add_argument("--dump", help="read the firmware back into this file")
    parser.add_argument("--result", required=True)
    parser.add_argument("--timeout", type=float, default=90)
    parser.add_argument("--show-progress", action="store_true")
    parser.add_argument("--all-plugins", action="store_true",
                        help="load every plugin fwupd has, not only ours")
    parser.add_argument("--retry", action="store_true",
                        help="after a failed install, install again on the device as it is now")
    args = parser.parse_args()

    global PLUGIN_FILTER
    PLUGIN_FILTER = not args.all_plugins
    result = {}
    all_devices = []
    before, err = find_devices(args.build, args.plugin, args.timeout, all_devices)
    result["before"] = [summary(d) for d in before]
    result["all_before"] = [dict(summary(d), Plugin=d.get("Plugin")) for d in all_devices]
    result["before_stderr"] = err[-4000:]
    rc = 0
    if args.install and before:
        cmd = ["install-blob", args.install, before[0]["DeviceId"], "--force",
               "--allow-reinstall", "--allow-older"]
        if PLUGIN_FILTER:
            cmd += ["--plugins", args.plugin]
        start = time.monotonic()
        rc, out, err = fwupdtool(args.build, cmd, args.timeout, stream=args.show_progress)
        result["install"] = {"rc": rc, "stdout": out[-4000:], "stderr": err[-8000:],
                             "seconds": time.monotonic() - start}
        after, err = find_devices(args.build, args.plugin, args.timeout)
        # a device that lost power comes back in its own time: as a user would, wait for it
        # (a bounded number of looks) before retrying on it
        looks = 0
        while args.retry and rc != 0 and not after and looks < RETRY_LOOKS:
            time.sleep(0.5)
            after, err = find_devices(args.build, args.plugin, args.timeout)
            looks += 1
        result["after"] = [summary(d) for d in after]
        result["after_looks"] = looks
        result["after_stderr"] = err[-4000:]
        if args.retry and rc != 0 and after:
            cmd[2] = after[0]["DeviceId"]
            rc, out, err = fwupdtool(args.build, cmd, args.timeout)
            result["retry"] = {"rc": rc, "stdout": out[-4000:], "stderr": err[-8000:]}
            final, err = find_devices(args.build, args.plugin, args.timeout)
            result["final"] = [summary(d) for d in final]
    elif args.install:
        rc = 3
    if args.dump and before:
        cmd = ["firmware-dump", args.dump, before[0]["DeviceId"]]
        if PLUGIN_FILTER:
            cmd += ["--plugins", args.plugin]
        drc, out, err = fwupdtool(args.build, cmd, args.timeout)
        result["dump"] = {"rc": drc, "stdout": out[-4000:], "stderr": err[-8000:]}
    # the largest resident set of any fwupdtool this session ran
    result["peak_rss_kib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(args.result, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    return rc


if __name__ == "__main__":
    sys.exit(main())
