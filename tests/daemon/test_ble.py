#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The nordic-dfu plugin over Bluetooth LE through the daemon: Debian's fwupd daemon, loading our
modules, on a private system bus with a mock polkit and the fake org.bluez of tests/bluez-sim
(backed by tests/usbsim's nRF bootloader model); the real fwupdmgr installs a cabinet made by
contrib/make-cabinet, as a user does.

  test_ble.py --build BUILD CASE

update: the bootloader takes the image, resets into the application, which the plugin connects
and reads: fwupdmgr lists it at the new version, and the history records the update.
signature-refused: the application enters its bootloader at a new address (unbonded), which
the plugin adds itself; the bootloader refuses the unsigned init packet: fwupdmgr fails naming
the bootloader's error, the history records the failure, and the daemon lists the device as it
is (the bootloader, still connected, in DFU mode, once).
link-drop: the same, then the bootloader's link drops (bluez-sim's SIGUSR1, as the SDK's
bootloader resetting after its inactivity timeout): the daemon no longer lists it.
final-answer-lost: a buttonless update whose bootloader resets before it answers the final
execute: fwupdmgr fails saying what is known, and the bootloader is not left listed.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
sys.path.insert(0, HERE)

import daemon_client  # noqa: E402
from e2e_common import check, run_case_cli  # noqa: E402

MAKE_CABINET = os.path.join(TOP, "contrib", "make-cabinet")
ADDRESS = "C0:DE:00:11:22:F0"
# the instance ID the application and its bootloader share (plugins/nordic-dfu/README.md)
LINK_INSTANCE_ID = "NRFDFU_BLE\\ADDR_" + ADDRESS.replace(":", "_")
PLUGIN = "nordic_dfu"
UPDATE_STATE_SUCCESS = 2
# how long the daemon may take to list what came back after the update, or to drop a device
# whose link is gone: the plugin's bound for what comes back (10 s after an application) and
# the device list's remove delay for a device that went (a bootloader re-enumerates within it)
SETTLE_S = 30


class BleDaemon:
    """A private system bus with bluez-sim and polkit on it, and the daemon."""

    def __init__(self, build, name, sim_args):
        self.build = os.path.abspath(build)
        self.dir = os.path.join(self.build, "e2e", "daemon-ble-" + name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.summary_path = os.path.join(self.dir, "sim.jsonl")
        self.session = daemon_client.Session(os.path.join(self.dir, "daemon"), self.build,
                                             os.path.join(self.dir, "fwupd.log"))
        os.makedirs(self.session.state, exist_ok=True)
        self.steps = []
        self.sim_args = sim_args
        self.sim = None

    def start(self):
        s = self.session
        s.start_bus()
        self.sim = s.spawn([os.path.join(self.build, "tests", "bluez-sim", "bluez-sim"),
                            "--address", ADDRESS, "--time-scale", "0.1",
                            "--summary", self.summary_path] + self.sim_args,
                           daemon_client.without_preload(s.env), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        line = self.sim.stdout.readline()
        if "ready" not in line:
            self.sim.kill()
            check(False, "bluez-sim did not start: %r %s" % (line, self.sim.stderr.read()))
        s.start_polkit()
        s.start_daemon(daemon_client.default_modules(self.build),
                       daemon_client.default_quirks())

    def fwupdmgr(self, name, args, stream=False):
        rc, out, err = self.session.fwupdmgr(args, 150, stream=stream)
        self.steps.append({"name": name, "args": args, "rc": rc, "out": out + err})
        with open(os.path.join(self.dir, "fwupdmgr.log"), "a", encoding="utf-8") as f:
            f.write("$ fwupdmgr %s (%d)\n%s%s\n" % (" ".join(args), rc, out, err))
        return rc, out + err

    def devices(self):
        rc, out = self.fwupdmgr("get-devices", ["get-devices", "--json"])
        check(rc == 0, "fwupdmgr get-devices failed (%d):\n%s" % (rc, out[-2000:]))
        return daemon_client.devices_of(out, PLUGIN)

    def devices_until(self, cond, what):
        """get-devices until cond(devices) holds, at most SETTLE_S; the devices then"""
        deadline = time.monotonic() + SETTLE_S
        while True:
            devices = self.devices()
            if cond(devices):
                return devices
            check(time.monotonic() < deadline, "%s within %d s; listed: %s\n%s" %
                  (what, SETTLE_S, listed(devices), self.log_tail()))
            time.sleep(0.5)

    def history(self):
        _, out = self.fwupdmgr("get-history", ["get-history", "--json"])
        try:
            entries = json.loads(out).get("Devices", [])
        except json.JSONDecodeError:
            entries = []
        return [e for e in entries if e.get("Plugin") == PLUGIN]

    def install(self, cab):
        sys.stderr.write("$ fwupdmgr install %s\n" % os.path.basename(cab))
        # non-interactive, as test_daemon.py: no questions, no reboot prompt, no remotes
        return self.fwupdmgr("install", [
            "install", cab, "--allow-reinstall", "--allow-older", "--assume-yes",
            "--no-reboot-check", "--no-unreported-check", "--no-metadata-check",
            "--no-remote-check", "--no-security-fix"], stream=True)

    def drop_link(self):
        self.sim.send_signal(signal.SIGUSR1)

    def stop(self):
        """stops the daemon, polkit, bluez-sim (which then writes its summary) and the bus;
        the simulator's records"""
        stopped = self.session.stop()
        left = [p for p in stopped if p["rc"] is None]
        check(not left, "processes left running: %r" % left)
        daemon = [p for p in stopped if p["cmd"].endswith("/fwupd")]
        check(daemon and daemon[0]["rc"] == 0, "the daemon did not stop cleanly: %r\n%s" %
              (daemon, self.log_tail()))
        records = []
        with open(self.summary_path, encoding="utf-8") as f:
            for line in f:
                records.append(json.loads(line))
        return records

    def log_tail(self, size=4000):
        try:
            with open(self.session.log, encoding="utf-8", errors="replace") as f:
                return "fwupd daemon log (end):\n" + f.read()[-size:]
        except OSError:
            return "(no daemon log)"


def listed(devices):
    return [(d.get("Name"), d.get("Version")) for d in devices]


def make_cabinet(run):
    """app.zip (application version 7) for the instance ID the application and its bootloader
    share, as a vendor makes it for LVFS"""
    cab = os.path.join(run.dir, "firmware.cab")
    proc = subprocess.run([MAKE_CABINET, os.path.join(run.build, "plugins", "nordic-dfu",
                                                      "app.zip"),
                           "--out", cab, "--id", "org.usbsim.nrf52.ble.firmware",
                           "--name", "Simulated nRF52 (BLE)", "--instance-id", LINK_INSTANCE_ID,
                           "--release-notes", "test", "-q"],
                          capture_output=True, text=True, check=False)
    check(proc.returncode == 0, "make-cabinet failed:\n" + proc.stderr)
    return cab


def with_run(build, name, sim_args, body):
    run = BleDaemon(build, name, sim_args)
    try:
        run.start()
        body(run)
    finally:
        if run.sim is not None and run.session.procs:
            records = run.stop()
        else:
            records = []
    return records


def case_update(build):
    state = {}

    def body(run):
        cab = make_cabinet(run)
        before = run.devices()
        check([d.get("Version") for d in before] == ["6"],
              "expected the bootloader at version 6 before: %s" % listed(before))
        rc, out = run.install(cab)
        check(rc == 0, "fwupdmgr install failed (%d):\n%s\n%s" % (rc, out[-3000:],
                                                                  run.log_tail()))
        # the application the image started, connected by the plugin and read
        after = run.devices_until(lambda d: [x.get("Version") for x in d] == ["7"],
                                  "the device was not listed at version 7 alone")
        state["after"] = after
        history = run.history()
        check(history, "no history entry for the device")
        entry = history[-1]
        check(entry.get("UpdateState") == UPDATE_STATE_SUCCESS,
              "history records update state %r" % entry.get("UpdateState"))
        check(entry.get("Version") == "6", "history's old version %r" % entry.get("Version"))
        release = (entry.get("Releases") or [{}])[0]
        check(release.get("Version") == "7", "history's release %r" % release.get("Version"))
        _, text = run.fwupdmgr("get-history-text", ["get-history"])
        sys.stderr.write("$ fwupdmgr get-history\n" + text)

    records = with_run(build, "update", ["--mode", "bootloader", "--app-valid",
                                         "--app-version", "6"], body)
    summary = records[-1]
    check(summary["images_activated"] == 1 and summary["app_valid"] and
          summary["app_version"] == 7, "the image was not activated at version 7: %s" %
          summary.get("images"))
    print("listed after the update: %s" % listed(state["after"]))


def failed_update(run):
    """A buttonless update the bootloader refuses: the error, the history and what is listed
    after it. Returns the devices listed after."""
    cab = make_cabinet(run)
    before = run.devices()
    check([d.get("Version") for d in before] == ["6"],
          "expected the application at version 6 before: %s" % listed(before))
    rc, out = run.install(cab)
    check(rc != 0, "fwupdmgr install succeeded although the bootloader refused the image")
    check("signature" in out, "fwupdmgr does not name the bootloader's error:\n" + out[-3000:])
    # the history has the attempt, never as a success: fwupd 2.0.20 records the failure on
    # the device it started with, which the bootloader replaced during the update, so the
    # entry keeps no state of its own
    history = run.history()
    check(history and history[-1].get("UpdateState") != UPDATE_STATE_SUCCESS,
          "history does not have the failed attempt: %s" %
          [(e.get("Name"), e.get("UpdateState")) for e in history])
    # the application left for its bootloader, which refused the image and stays connected
    # in DFU mode: listed once, as the bootloader; a retry starts from it
    after = run.devices()
    check(len(after) == 1 and after[0].get("Name") == "DfuTarg",
          "expected the bootloader listed alone after the failure: %s" % listed(after))
    flags = after[0].get("Flags") or []
    check("updatable" in flags and "wait-for-replug" not in flags,
          "the bootloader is listed with flags %s" % flags)
    return after


# the application, holding version 6, enters its bootloader at a new address (unbonded) when
# the plugin asks it to
BUTTONLESS = ["--mode", "buttonless-unbonded", "--app-valid", "--app-version", "6"]


def recorded(records, event):
    return [r for r in records if r.get("event") == event]


def case_signature_refused(build):
    def body(run):
        after = failed_update(run)
        # the bootloader answers a new session: a retry would start from it
        rc, out = run.fwupdmgr("get-details", ["get-devices", "--json"])
        check(rc == 0, "get-devices failed after the failure")
        print("listed after the failed update: %s" % listed(after))

    records = with_run(build, "signature-refused", BUTTONLESS + ["--require-signature"], body)
    summary = records[-1]
    check(summary["images_activated"] == 0 and summary["app_version"] == 6,
          "an image was activated")


def case_link_drop(build):
    def body(run):
        failed_update(run)
        # the bootloader's link drops outside an update: the device it was is gone
        run.drop_link()
        run.devices_until(lambda d: d == [],
                          "the bootloader was still listed after its link dropped")
        print("the bootloader's link dropped: no device listed")

    records = with_run(build, "link-drop", BUTTONLESS + ["--require-signature"], body)
    check(recorded(records, "drop-on-request"), "bluez-sim did not drop the link")


def case_final_answer_lost(build):
    """The link drops with the answer to the final execute, in a buttonless update: the
    bootloader the plugin added activated the image and reset, or refused it, and the protocol
    cannot tell which. fwupdmgr fails saying so and what to do; the bootloader, whose link is
    gone, is not left listed."""

    def body(run):
        cab = make_cabinet(run)
        rc, out = run.install(cab)
        check(rc != 0, "fwupdmgr install succeeded although the final execute was not answered")
        check("before the bootloader answered the final execute" in out and
              "run the update again" in out,
              "fwupdmgr does not say what is known and what to do:\n" + out[-3000:])
        run.devices_until(lambda d: d == [], "the bootloader whose link dropped was still listed")
        print("the failed update left no device listed")

    records = with_run(build, "final-answer-lost", BUTTONLESS + ["--lose-final-answer"], body)
    check(recorded(records, "final-answer-lost"), "the answer was not lost")


CASES = {
    "final-answer-lost": case_final_answer_lost,
    "update": case_update,
    "signature-refused": case_signature_refused,
    "link-drop": case_link_drop,
}


def main():
    return run_case_cli(CASES, lambda case, args: case(args.build))


if __name__ == "__main__":
    sys.exit(main())
