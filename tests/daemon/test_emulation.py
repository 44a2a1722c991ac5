#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""fwupd replays our recorded devices with no device and no simulator: the emulation data and
device tests in data/ (recorded from the simulated devices by
`tests/daemon/test_daemon.py --build BUILD CASE --record-emulation ZIP`).

  test_emulation.py --build BUILD NAME      (data/device-tests/NAME.json)

fwupdtool emulation-load ZIP CAB: the recorded device appears and the cabinet installs on it,
every request matching the recording, and a device that comes back after the update reports the
device test's version; a cabinet with another image fails the replay.

  test_emulation.py --build BUILD --daemon NAME

The same through the daemon: fwupdmgr emulation-load ZIP, get-devices lists the recorded
device, fwupdmgr install CAB installs on it, and get-devices lists it at the device test's
version. The daemon runs under umockdev-run (an empty test bed): fwupd 2.0.20 built against
libusb 1.0.26 cannot set up its udev backend otherwise, and that backend is the one that takes
the recorded devices (data/emulation/README.md).
"""

import argparse
import json
import time
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import daemon_client  # noqa: E402

DATA = os.path.join(TOP, "data")
MAKE_NRF_PACKAGE = os.path.join(TOP, "plugins", "nordic-dfu", "tests",
                                "make-nrfutil-package.py")
# each recording: its plugin and make-cabinet protocol; for a raw image of a DfuSe device,
# where it goes; for an nRF device, the make-nrfutil-package.py arguments of the package the
# image is shipped in (as test_daemon.py made it); and whether the device comes back after
# the update (the DfuSe bootloader leaves for an application fwupd cannot see)
RECORDINGS = {
    "cobs-stm32h7": dict(plugin="cobs", protocol="cobs", back=True),
    "dfuse-stm32f4": dict(plugin="dfu_core", protocol="dfuse",
                          cabinet=["--address", "0x08000000"], back=False),
    "nordic-nrf52840": dict(plugin="nordic_dfu", protocol="nordic",
                            package=["--fw-version", "7", "--sd-req", "0x100"], back=True),
}
# fwupd's debug line (-vv) each time a device's version is set
VERSION_SET = re.compile(r"changing version for [0-9a-f]+: (\S*)->(\S*)$", re.MULTILINE)
# fwupd's log lines (-vv) and its dumps of devices, between its messages and errors
LOG_LINE = re.compile(r"^([0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} |\s|$)")


class Failure(Exception):
    pass


def messages(stderr, count=20):
    """What fwupdtool -vv said besides its log: progress, messages, the error."""
    lines = [line for line in stderr.splitlines() if not LOG_LINE.match(line)]
    return "\n".join(lines[-count:])


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def daemon_replay(build, name, plugin, emulation, cabinet, version, back):
    """fwupdmgr emulation-load, get-devices, install and get-devices, through the daemon"""
    work = os.path.join(build, "e2e", "emulation-daemon-" + name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    session = daemon_client.Session(work, build, os.path.join(work, "fwupd.log"))
    # umockdev's preload takes the daemon's uevent netlink sockets into the (empty) test bed,
    # so libusb's udev monitor and fwupd's own no longer claim the same netlink port
    session.daemon_wrapper = ["umockdev-run", "--"]
    log = []

    def fwupdmgr(args):
        rc, out, err = session.fwupdmgr(args, 120)
        log.append("$ fwupdmgr %s (%d)\n%s%s" % (" ".join(args), rc, out, err))
        return rc, out + err

    try:
        session.start_bus()
        session.start_polkit()
        session.start_daemon(daemon_client.default_modules(build), daemon_client.default_quirks())
        rc, out = fwupdmgr(["emulation-load", emulation])
        check(rc == 0, "fwupdmgr emulation-load failed (%d):\n%s" % (rc, out[-2000:]))
        _, out = fwupdmgr(["get-devices", "--json"])
        before = daemon_client.devices_of(out, plugin)
        check(len(before) == 1, "fwupdmgr get-devices lists %d %s devices after emulation-load"
              % (len(before), plugin))
        check("emulated" in (before[0].get("Flags") or []),
              "the device is not flagged emulated: %s" % before[0].get("Flags"))
        print("fwupdmgr emulation-load %s: listed %s at version %s" %
              (os.path.basename(emulation), before[0]["Name"], before[0]["Version"]))
        rc, out = fwupdmgr(["install", cabinet, "--allow-reinstall", "--allow-older",
                            "--assume-yes", "--no-reboot-check", "--no-unreported-check",
                            "--no-metadata-check", "--no-remote-check", "--no-security-fix"])
        check(rc == 0, "fwupdmgr install on the emulated device failed (%d):\n%s" %
              (rc, out[-2000:]))
        print("fwupdmgr install %s: installed on the emulated device" %
              os.path.basename(cabinet))
        if back:
            # the replayed device comes back (a replug in the recording) a moment later
            deadline = time.monotonic() + 15
            while True:
                _, out = fwupdmgr(["get-devices", "--json"])
                after = daemon_client.devices_of(out, plugin)
                if [d["Version"] for d in after] == [version] or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            check([d["Version"] for d in after] == [version],
                  "listed after the install at %s, the device test expects %s" %
                  ([d["Version"] for d in after], version))
            print("listed after the install at version %s" % version)
    finally:
        stopped = session.stop()
        with open(os.path.join(work, "fwupdmgr.log"), "w", encoding="utf-8") as f:
            f.write("\n".join(log))
    daemon = [p for p in stopped if p["cmd"] == "umockdev-run"]
    check(daemon and daemon[0]["rc"] == 0, "the daemon did not stop cleanly: %r" % daemon)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--daemon", action="store_true",
                        help="replay through the daemon and fwupdmgr instead of fwupdtool")
    parser.add_argument("name", choices=sorted(RECORDINGS))
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    recording = RECORDINGS[args.name]
    plugin = recording["plugin"]
    with open(os.path.join(DATA, "device-tests", args.name + ".json"), encoding="utf-8") as f:
        device_test = json.load(f)
    step = device_test["steps"][0]
    emulation = os.path.join(DATA, "emulation", step["emulation-file"])
    cabinet = os.path.join(DATA, "emulation", step["url"])
    guids = step["components"][0]["guids"]
    version = step["components"][0]["version"]
    if args.daemon:
        try:
            daemon_replay(build, args.name, plugin, emulation, cabinet, version,
                          recording["back"])
        except (Failure, RuntimeError, OSError, subprocess.SubprocessError) as exc:
            print("FAIL daemon %s: %s" % (args.name, exc))
            return 1
        print("PASS daemon %s" % args.name)
        return 0
    work = os.path.join(build, "e2e", "emulation-" + args.name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    try:
        # 1. fwupdtool, in one process: load the recording, install the cabinet on it
        proc = subprocess.run(
            [os.path.join(TOP, "tests", "run-fwupdtool"), build, "emulation-load", emulation,
             cabinet, "--plugins", plugin, "--allow-reinstall", "--allow-older", "-vv"],
            env=dict(os.environ, FWUPD_TEST_STATE_DIR=os.path.join(work, "fwupdtool")),
            capture_output=True, text=True, timeout=120)
        log = os.path.join(work, "fwupdtool.log")
        with open(log, "w", encoding="utf-8") as f:
            f.write(proc.stderr)
        check(proc.returncode == 0, "fwupdtool emulation-load failed (%d):\n%s\n(its log: %s)" %
              (proc.returncode, messages(proc.stderr), log))
        print("fwupdtool emulation-load %s %s: installed on the emulated device" %
              (os.path.basename(emulation), os.path.basename(cabinet)))
        # fwupd itself only checks that the version changed from the old one: the version
        # the device reports after the update must be the device test's
        if recording["back"]:
            versions = VERSION_SET.findall(proc.stderr)
            check(versions and versions[-1][1] == version,
                  "the replayed device reports version %r after the update, the device test "
                  "expects %s" % (versions[-1][1] if versions else None, version))
            print("the device came back at version %s" % version)

        # the replay is checked: the same recording refuses an image it did not record
        other = os.path.join(work, "other.cab")
        artifact = os.path.join(work, "other.bin")
        with open(artifact, "wb") as f:
            f.write(bytes((i * 7 + 3) & 0xFF for i in range(4096)))
        if "package" in recording:
            package = os.path.join(work, "other.zip")
            proc = subprocess.run(["/usr/bin/python3", MAKE_NRF_PACKAGE, package,
                                   "application=" + artifact] + recording["package"],
                                  capture_output=True, text=True)
            check(proc.returncode == 0, "make-nrfutil-package.py failed:\n" + proc.stderr)
            artifact = package
        proc = subprocess.run(
            [os.path.join(TOP, "contrib", "make-cabinet"), artifact,
             "--out", other, "--id", "org.usbsim.other.firmware", "--name", "other",
             "--protocol", recording["protocol"], "--version", version,
             "--release-notes", "another image", "-q"] + recording.get("cabinet", []) +
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
