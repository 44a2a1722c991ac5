#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""fwupd replays our recorded devices with no device and no simulator: the emulation data and
device tests in data/ (recorded from the simulated devices by
`tests/daemon/test_daemon.py --build BUILD CASE --record-emulation ZIP`).

  test_emulation.py --build BUILD NAME      (data/device-tests/NAME.json)

fwupdtool emulation-load ZIP CAB: the recorded device appears and the cabinet installs on it,
every request matching the recording; a cabinet with another image fails the replay.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
DATA = os.path.join(TOP, "data")
# the plugin and make-cabinet protocol of each recording
# (and, for a raw image of a DfuSe device, where it goes)
PLUGINS = {"cobs-stm32h7": ("cobs", "cobs", []),
           "dfuse-stm32f4": ("dfu_core", "dfuse", ["--address", "0x08000000"])}


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("name", choices=sorted(PLUGINS))
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    plugin, protocol, cabinet_args = PLUGINS[args.name]
    with open(os.path.join(DATA, "device-tests", args.name + ".json"), encoding="utf-8") as f:
        device_test = json.load(f)
    step = device_test["steps"][0]
    emulation = os.path.join(DATA, "emulation", step["emulation-file"])
    cabinet = os.path.join(DATA, "emulation", step["url"])
    guids = step["components"][0]["guids"]
    work = os.path.join(build, "e2e", "emulation-" + args.name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    try:
        # 1. fwupdtool, in one process: load the recording, install the cabinet on it
        proc = subprocess.run(
            [os.path.join(TOP, "tests", "run-fwupdtool"), build, "emulation-load", emulation,
             cabinet, "--plugins", plugin, "--allow-reinstall", "--allow-older"],
            env=dict(os.environ, FWUPD_TEST_STATE_DIR=os.path.join(work, "fwupdtool")),
            capture_output=True, text=True, timeout=120)
        check(proc.returncode == 0, "fwupdtool emulation-load failed (%d):\n%s" %
              (proc.returncode, proc.stderr[-3000:]))
        print("fwupdtool emulation-load %s %s: installed on the emulated device" %
              (os.path.basename(emulation), os.path.basename(cabinet)))

        # the replay is checked: the same recording refuses an image it did not record
        other = os.path.join(work, "other.cab")
        with open(os.path.join(work, "other.bin"), "wb") as f:
            f.write(bytes((i * 7 + 3) & 0xFF for i in range(4096)))
        proc = subprocess.run(
            [os.path.join(TOP, "contrib", "make-cabinet"), os.path.join(work, "other.bin"),
             "--out", other, "--id", "org.usbsim.other.firmware", "--name", "other",
             "--protocol", protocol, "--version", step["components"][0]["version"],
             "--release-notes", "another image", "-q"] + cabinet_args +
            sum((["--guid", g] for g in guids), []), capture_output=True, text=True)
        check(proc.returncode == 0, "make-cabinet failed:\n" + proc.stderr)
        proc = subprocess.run(
            [os.path.join(TOP, "tests", "run-fwupdtool"), build, "emulation-load", emulation,
             other, "--plugins", plugin, "--allow-reinstall", "--allow-older"],
            env=dict(os.environ, FWUPD_TEST_STATE_DIR=os.path.join(work, "fwupdtool-other")),
            capture_output=True, text=True, timeout=120)
        check(proc.returncode != 0, "another image installed on the recording")
        print("another image: refused by the replay (%s)" %
              proc.stderr.strip().splitlines()[-1])
    except Failure as exc:
        print("FAIL %s: %s" % (args.name, exc))
        return 1
    print("PASS %s" % args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
