#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The nordic-dfu plugin over Bluetooth LE, end to end: a private system bus (dbus-daemon),
the fake org.bluez of tests/bluez-sim backed by tests/usbsim's nRF bootloader model, and
Debian's fwupdtool (tests/run-fwupdtool) loading our module, which reaches the device
through fwupd's BlueZ backend on that bus.

  test_nordic_ble.py --build BUILD CASE [--time-scale F] [--keep]
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

from e2e_common import Failure, check, run_case_cli

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
MAKE_CABINET = os.path.join(TOP, "contrib", "make-cabinet")
ADDRESS = "C0:DE:00:11:22:F0"
# the instance ID the application and its bootloader share (README, GUIDs)
LINK_INSTANCE_ID = "NRFDFU_BLE\\ADDR_" + ADDRESS.replace(":", "_")
TIME_SCALE = "0.1"
# where the model's bank 0 starts (after the SoftDevice)
APP_START = 0x27000
# what fwupdtool prints after an update whose version was not read back
NOT_READ_BACK = "its version could not be read back"


# every run started, stopped at exit even when a case failed before its finish()
RUNS = []


class BleRun:
    """One private system bus, one simulated device, one fwupdtool session."""

    def __init__(self, build, name, sim_args, time_scale):
        self.sim = None
        self.bus = None
        RUNS.append(self)
        self.build = os.path.abspath(build)
        self.dir = os.path.join(self.build, "e2e", "ble-" + name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.bus_path = os.path.join(self.dir, "bus")
        self.summary_path = os.path.join(self.dir, "sim.jsonl")
        self.flash_path = os.path.join(self.dir, "flash.bin")
        self.env = dict(os.environ)
        self.env["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=" + self.bus_path
        self.env["FWUPD_TEST_STATE_DIR"] = os.path.join(self.dir, "fwupd-state")
        self.bus = subprocess.Popen(
            ["dbus-daemon", "--config-file",
             os.path.join(TOP, "tests", "bluez-sim", "system-bus.conf"),
             "--address", "unix:path=" + self.bus_path, "--nofork", "--print-address"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.bus.stdout.readline()
        self.sim = subprocess.Popen(
            [os.path.join(self.build, "tests", "bluez-sim", "bluez-sim"),
             "--address", ADDRESS, "--time-scale", time_scale,
             "--summary", self.summary_path, "--flash-out", self.flash_path] + sim_args,
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.sim.stdout.readline()
        if "ready" not in line:
            raise Failure("bluez-sim did not start: " + line + self.sim.stderr.read())
        self.records = []
        self.summary = {}

    def fwupdtool(self, args, timeout=120):
        cmd = [os.path.join(TOP, "tests", "run-fwupdtool"), self.build] + args
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        with open(os.path.join(self.dir, "fwupdtool.log"), "a", encoding="utf-8") as f:
            f.write("$ " + " ".join(args) + "\n" + proc.stdout + proc.stderr)
        return proc.returncode, proc.stdout, proc.stderr

    def devices(self):
        rc, out, err = self.fwupdtool(["get-devices", "--json"])
        check(rc == 0, "get-devices failed: " + err[-2000:])
        start = out.find("{")
        devices = json.loads(out[start:]).get("Devices", [])
        return [d for d in devices if d.get("Plugin") == "nordic_dfu"]

    def install(self, package):
        devices = self.devices()
        check(len(devices) == 1, "expected one nordic_dfu device, got %d" % len(devices))
        started = time.monotonic()
        rc, out, err = self.fwupdtool(["install-blob", package, devices[0]["DeviceId"],
                                       "--force", "--allow-reinstall", "--allow-older",
                                       "--verbose"])
        self.elapsed = time.monotonic() - started
        return rc, out + err, devices[0]

    def finish(self):
        self.sim.send_signal(signal.SIGTERM)
        try:
            self.sim.wait(timeout=10)
        finally:
            self.bus.terminate()
            self.bus.wait(timeout=10)
        with open(self.summary_path, encoding="utf-8") as f:
            for line in f:
                self.records.append(json.loads(line))
        self.summary = self.records[-1]
        return self.summary

    def events(self, name):
        return [r for r in self.records if r.get("event") == name]

    def check_app_flashed(self, build):
        """bank 0 holds app.zip's image byte-exact (after finish())"""
        with zipfile.ZipFile(package(build, "app")) as zf:
            manifest = json.loads(zf.read("manifest.json"))["manifest"]
            app = zf.read(manifest["application"]["bin_file"])
        with open(self.flash_path, "rb") as f:
            flash = f.read()
        check(flash[APP_START:APP_START + len(app)] == app,
              "bank 0 does not hold the application byte-exact")

    def stop(self):
        """what finish() did not end: the simulator and the bus of a failed case"""
        for proc in (self.sim, self.bus):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def package(build, name):
    return os.path.join(build, "plugins", "nordic-dfu", name + ".zip")


def expect_success(run, rc, log):
    s = run.finish()
    check(rc == 0, "install failed:\n" + log[-3000:])
    check(s["images_activated"] == 1, "image not activated: %s" % s["images"])
    check(s["app_valid"] and s["app_version"] == 7, "application not valid at version 7")
    check(s["bytes_stored"] == 10000, "stored %d bytes" % s["bytes_stored"])
    return s


def case_update(build, ts):
    run = BleRun(build, "update", ["--mode", "bootloader"], ts)
    rc, log, dev = run.install(package(build, "app"))
    s = expect_success(run, rc, log)
    ble = s["ble"]
    check(ble["packets"] == 43, "packets: %d (41 of 244 bytes for the image, one for "
          "the init packet)" % ble["packets"])
    # the only disconnection is the reset after the activation, the only connection the
    # plugin's to the application that then advertises
    check(ble["packets_lost"] == 0 and ble["link_drops"] == 1 and ble["connects"] == 1 and
          ble["app_adverts"] == 1, "link trouble: %s" % ble)
    # PRN 8 paces the packets: a CRC notification every 8 writes
    check(s["requests"].get("prn_set") == 1, "PRN not set")
    check(ble["limit_ble_ms"] > 0, "no BLE limit")
    print("update: %d packets, transfer %.1f ms against a BLE limit of %.1f ms" %
          (ble["packets"], ble["transfer_ms"], ble["limit_ble_ms"]))


def case_small_mtu(build, ts):
    """A link that kept the default ATT MTU of 23: 20 bytes a packet."""
    run = BleRun(build, "small-mtu", ["--mode", "bootloader", "--mtu", "23"], ts)
    rc, log, dev = run.install(package(build, "app"))
    s = expect_success(run, rc, log)
    # 10000 bytes in 20-byte packets and the 69-byte init packet in 4; the fake refuses a
    # longer packet, which would fail the update
    check(s["requests"]["write"] >= 504, "writes: %d" % s["requests"]["write"])


def case_max_mtu(build, ts):
    """A link at the largest ATT MTU BlueZ negotiates, 517: 514 bytes a packet, the most the
    plugin takes from BlueZ."""
    run = BleRun(build, "max-mtu", ["--mode", "bootloader", "--mtu", "517"], ts)
    rc, log, dev = run.install(package(build, "app"))
    s = expect_success(run, rc, log)
    # 10000 bytes in 514-byte packets (20) and the 69-byte init packet in 1
    check(s["requests"]["write"] == 21, "writes: %d" % s["requests"]["write"])


def case_buttonless(build, ts, bonded):
    mode = "buttonless-bonded" if bonded else "buttonless-unbonded"
    run = BleRun(build, mode, ["--mode", mode, "--app-version", "6"], ts)
    devices = run.devices()
    check(len(devices) == 1 and devices[0].get("Version") == "6",
          "runtime not found at version 6: %s" % devices)
    rc, log, dev = run.install(package(build, "app"))
    s = expect_success(run, rc, log)
    ble = s["ble"]
    check(ble["enter_bootloader"] == 1, "enter-bootloader not written once")
    want = ADDRESS if bonded else ADDRESS[:-2] + "F1"
    # it advertises again after the activation reboot if the run lasts long enough: every
    # time under the same address
    check(ble["addresses"] and set(ble["addresses"]) == {want},
          "bootloader advertised as %s, not %s" %
          (ble["addresses"], want))
    if not bonded:
        check(run.events("discovery"), "no discovery for the new address")
    connects = [e["device"] for e in run.events("connect")]
    check(connects and connects[0].endswith(want.replace(":", "_")),
          "the plugin did not connect the bootloader: %s" % connects)


def case_drop_link(build, ts):
    """The link is lost at the 20th packet, in the middle of the second data object: the plugin
    connects again and the core resumes from select's offset and CRC."""
    run = BleRun(build, "drop-link", ["--mode", "bootloader", "--drop-link-after", "20"], ts)
    rc, log, dev = run.install(package(build, "app"))
    s = expect_success(run, rc, log)
    ble = s["ble"]
    check(ble["link_drops"] >= 1 and ble["connects"] >= 1, "no drop and reconnection")
    # a second session after the reconnection: set PRN again, select, resume
    check(s["requests"].get("prn_set") == 2, "no new session: %s" % s["requests"])
    # a resume sends again only what select did not confirm: at most one object
    check(ble["packets"] <= 43 + 17 + ble["packets_lost"], "too many packets: %d" %
          ble["packets"])
    check(s["objects_data"] == 3, "objects executed: %d" % s["objects_data"])


def case_drop_link_write_value(build, ts):
    """As drop-link-resume, on a BlueZ that refuses AcquireWrite, so that packets go by
    WriteValue: the write that finds the link gone releases it, and the plugin connects again
    and resumes."""
    run = BleRun(build, "drop-link-write-value",
                 ["--mode", "bootloader", "--drop-link-after", "20", "--no-acquire-write"], ts)
    rc, log, dev = run.install(package(build, "app"))
    s = expect_success(run, rc, log)
    ble = s["ble"]
    by_write_value = ble["packets_write_value"]
    check(ble["packets"] > 0 and by_write_value == ble["packets"],
          "packets not written by WriteValue: %d of %d" % (by_write_value, ble["packets"]))
    check(ble["link_drops"] >= 1 and ble["connects"] >= 1, "no drop and reconnection")
    check(s["requests"].get("prn_set") == 2, "no new session: %s" % s["requests"])
    check(s["objects_data"] == 3, "objects executed: %d" % s["objects_data"])


def case_drop_link_late_services(build, ts):
    """As drop-link-resume, but BlueZ resolves the services 2 s (scaled) after the Connect
    returns, as it reads the GATT database once connected: the plugin waits for
    ServicesResolved in PropertiesChanged, then resumes."""
    run = BleRun(build, "drop-link-late-services",
                 ["--mode", "bootloader", "--drop-link-after", "20", "--resolve-ms", "2000"], ts)
    rc, log, dev = run.install(package(build, "app"))
    s = expect_success(run, rc, log)
    ble = s["ble"]
    check(ble["link_drops"] >= 1 and ble["connects"] >= 1, "no drop and reconnection")
    check(run.events("services-resolved"), "the services were never resolved late")
    check(s["objects_data"] == 3, "objects executed: %d" % s["objects_data"])


def expect_failure(run, rc, log, text):
    run.finish()
    check(rc != 0, "install succeeded")
    check(text in log, "expected %r in:\n%s" % (text, log[-3000:]))


# How fwupd 2.0.20 says that the device it waits for never came back, once the application's
# link dropped: its replug wait (src/fu-device-list.c, fu_device_list_wait_for_replug) and the
# delayed removal of the BlueZ device that went away run for the same remove delay, and the
# wait runs the main loop where that removal can land first; then the install fails looking
# up the device instead. Either way the plugin's warning, before it, names the cause.
NEVER_BACK = ("did not come back", "was not found")


def expect_never_back(run, rc, log):
    run.finish()
    check(rc != 0, "install succeeded")
    found = [text for text in NEVER_BACK if text in log]
    check(found, "expected one of %r in:\n%s" % (NEVER_BACK, log[-3000:]))
    return log.index(found[0])


def case_buttonless_refused(build, ts):
    run = BleRun(build, "buttonless-refused",
                 ["--mode", "buttonless-unbonded", "--buttonless-result", "4"], ts)
    rc, log, dev = run.install(package(build, "app"))
    expect_failure(run, rc, log, "the application refused to enter the bootloader: "
                   "the application could not enter the bootloader (0x04)")


def case_buttonless_silent(build, ts):
    run = BleRun(build, "buttonless-silent",
                 ["--mode", "buttonless-unbonded", "--buttonless-silent"], ts)
    rc, log, dev = run.install(package(build, "app"))
    expect_failure(run, rc, log, "did not indicate a response to enter-bootloader")


def case_bootloader_absent(build, ts):
    run = BleRun(build, "bootloader-absent",
                 ["--mode", "buttonless-unbonded", "--bootloader-absent"], ts)
    rc, log, dev = run.install(package(build, "app"))
    # fwupd gives up waiting for the replug after the runtime's remove delay, 20 s, after the
    # plugin's own 15 s
    expect_never_back(run, rc, log)
    check(run.events("discovery"), "the plugin did not look for the bootloader")


def case_buttonless_stays(build, ts):
    """The application accepts enter-bootloader but never resets: the warning says so and what
    to do, before fwupd gives up waiting."""
    run = BleRun(build, "buttonless-stays", ["--mode", "buttonless-unbonded",
                                             "--buttonless-stays"], ts)
    rc, log, dev = run.install(package(build, "app"))
    expect_failure(run, rc, log, "did not come back")
    check("did not disconnect to reset" in log and "power-cycle the device" in log,
          "the warning does not say the application stayed:\n" + log[-3000:])
    check(not run.events("discovery"), "the plugin looked for a bootloader before the reset")


def case_discovery_refused(build, ts):
    """The adapter refuses to discover (BlueZ with it powered off): the unbonded bootloader's new
    address can never show, and the log says why rather than only that nothing came back."""
    run = BleRun(build, "discovery-refused",
                 ["--mode", "buttonless-unbonded", "--discovery-refused"], ts)
    rc, log, dev = run.install(package(build, "app"))
    fwupd_error_at = expect_never_back(run, rc, log)
    check("the Bluetooth adapter did not start discovery" in log and "Not Ready" in log,
          "the refused discovery is not named:\n" + log[-3000:])
    check(run.events("discovery-refused"), "the plugin did not ask for discovery")
    # the plugin's warning comes before fwupd gives up
    check(log.index("did not start discovery") < fwupd_error_at,
          "the warning came after fwupd's error")


def case_bad_hash(build, ts):
    run = BleRun(build, "bad-hash", ["--mode", "bootloader"], ts)
    rc, log, dev = run.install(package(build, "bad-hash"))
    expect_failure(run, rc, log, "hash")
    check(run.summary["ble"]["packets"] == 0, "packets were sent for a refused package")


def case_wrong_hw(build, ts):
    run = BleRun(build, "hw-53", ["--mode", "bootloader"], ts)
    rc, log, dev = run.install(package(build, "hw-53"))
    expect_failure(run, rc, log, "hw_version")
    check(run.summary["ble"]["packets"] == 0, "packets were sent for a refused package")


def case_hostile_wrong_length(build, ts):
    """Every notification answering SELECT is a byte short: the error says what came."""
    run = BleRun(build, "hostile-wrong-length",
                 ["--mode", "bootloader", "--reply-wrong-length", "select"], ts)
    rc, log, dev = run.install(package(build, "app"))
    expect_failure(run, rc, log, "no reply to SELECT")
    check("the last a 14-byte response to SELECT" in log, "the error does not say what came:\n" +
          log[-3000:])
    check(run.summary["bytes_stored"] == 0, "data was written")
    print("fwupdtool: " + [line for line in log.splitlines() if "no reply to SELECT" in line][0])


def case_hostile_unsolicited(build, ts):
    """A notification that is no response and a CRC notification nobody asked for before every
    response, PRN notifications included: skipped, the update completes."""
    run = BleRun(build, "hostile-unsolicited", ["--mode", "bootloader", "--unsolicited"], ts)
    rc, log, dev = run.install(package(build, "app"))
    expect_success(run, rc, log)
    run.check_app_flashed(build)
    check(run.summary["faults_fired"] > 0, "nothing unsolicited was sent")
    print("fwupdtool: updated")


def make_cabinet(run, build):
    """app.zip (version 7) in a cabinet for the instance ID the application and its bootloader
    share, as contrib/make-cabinet makes it for LVFS"""
    cab = os.path.join(run.dir, "firmware.cab")
    proc = subprocess.run([MAKE_CABINET, package(build, "app"), "--out", cab, "--id",
                           "org.usbsim.nrf52.ble.firmware", "--name", "Simulated nRF52 (BLE)",
                           "--instance-id", LINK_INSTANCE_ID, "--release-notes", "test", "-q"],
                          capture_output=True, text=True, check=False)
    check(proc.returncode == 0, "make-cabinet failed:\n" + proc.stderr)
    return cab


def case_cabinet(build, ts, mode, sim_args=()):
    """A cabinet installed as fwupdmgr installs it (fwupdtool install, not install-blob): after
    the update fwupd compares the version the device reports with the release's, so the plugin
    must wait for what the last image's activation started (the application, advertising with
    its buttonless service at its own address) and read the new version from it; the device is
    then listed at that version by the next fwupdtool."""
    name = "cabinet-" + mode + ("-connect-hangs" if "--connect-hangs" in sim_args else "")
    run = BleRun(build, name,
                 ["--mode", mode, "--app-valid", "--app-version", "6"] + list(sim_args), ts)
    cab = make_cabinet(run, build)
    before = run.devices()
    check([d.get("Version") for d in before] == ["6"],
          "expected one device at version 6 before: %s" % before)
    rc, out, err = run.fwupdtool(["install", cab, "--force", "--verbose"], timeout=150)
    # the client: list the devices as the user would next
    after = run.devices()
    s = run.finish()
    log = "".join(line + "\n" for line in (out + err).splitlines() if "\u2026: " not in line)
    check(rc == 0, "fwupdtool install failed (%d):\n%s" % (rc, log[-3000:]))
    # fwupd skips its version check for a device it no longer has
    check("failed to find new device" not in log,
          "fwupd could not check the version, the device was gone after the update:\n" +
          log[-3000:])
    check(s["images_activated"] == 1, "image not activated: %s" % s["images"])
    check(s["app_valid"] and s["app_version"] == 7, "application not valid at version 7")
    check(s["ble"]["app_adverts"] >= 1, "the application did not advertise after the update")
    versions = [d.get("Version") for d in after]
    check(versions == ["7"], "listed after the install at versions %s, not 7" % versions)
    return run, s


def case_cabinet_connect_hangs(build, ts):
    """As BlueZ does, a Connect to an address that does not advertise waits (here until the
    device advertises or the Connect is cancelled): after the update the plugin discovers and
    connects only what BlueZ saw advertise, so no Connect waits and fwupd's main loop is
    never held by one, and the follow ends well within its 15 s."""
    started = time.monotonic()
    # at real time, so that the application boots for a while after the reset
    run, s = case_cabinet(build, "1.0", "buttonless-unbonded", ["--connect-hangs"])
    elapsed = time.monotonic() - started
    check(s["ble"]["connects_hung"] == 0,
          "%d Connects to a device that did not advertise" % s["ble"]["connects_hung"])
    check(run.events("discovery"), "the plugin did not discover what advertises")
    check(elapsed < 30, "the install took %.1f s" % elapsed)


def case_buttonless_again_connect_hangs(build, ts):
    """A second update through the buttonless service: BlueZ now knows the bootloader's
    address from the first, so it is listed before it advertises; as BlueZ does, a Connect to
    it would wait until it advertises, holding fwupd's main loop if it were synchronous. The
    plugin connects the bootloader only once BlueZ saw it advertise, so no Connect waits."""
    # at real time, so that the bootloader boots for a while after the enter command
    run = BleRun(build, "buttonless-again-connect-hangs",
                 ["--mode", "buttonless-unbonded", "--app-valid", "--app-version", "6",
                  "--connect-hangs"], "1.0")
    results = [run.install(package(build, "app"))[:2] for _ in range(2)]
    s = run.finish()
    for attempt, (rc, log) in enumerate(results, 1):
        check(rc == 0, "install %d failed:\n%s" % (attempt, log[-3000:]))
    check(s["images_activated"] == 2, "images activated: %d" % s["images_activated"])
    check(s["ble"]["enter_bootloader"] == 2, "enter-bootloader not written twice")
    check(s["ble"]["connects_hung"] == 0,
          "%d Connects to a device that did not advertise" % s["ble"]["connects_hung"])


def case_cabinet_app_no_dfu_will_disappear(build, ts):
    """The quirk flag will-disappear on the bootloader: the install is reported done at once,
    without the wait and the version check."""
    run = BleRun(build, "cabinet-app-no-dfu-will-disappear",
                 ["--mode", "bootloader", "--app-valid", "--app-version", "6", "--app-no-dfu"],
                 ts)
    quirk = os.path.join(run.dir, "will-disappear.quirk")
    with open(quirk, "w", encoding="utf-8") as f:
        f.write("[%s]\nFlags = will-disappear\n" % LINK_INSTANCE_ID)
    run.env["FWUPD_TEST_EXTRA_QUIRKS"] = quirk
    cab = make_cabinet(run, build)
    started = time.monotonic()
    rc, out, err = run.fwupdtool(["install", cab, "--force"], timeout=150)
    elapsed = time.monotonic() - started
    s = run.finish()
    check(s["images_activated"] == 1 and s["app_version"] == 7, "image not activated")
    check(elapsed < 10, "the install waited %.1f s for a device that cannot come back" % elapsed)
    check(rc == 0, "install failed:\n" + (out + err)[-3000:])
    run.check_app_flashed(build)


def case_ending_unverified(build, ts, name, sim_args, warning):
    """A correct update after which nothing the plugin can read the version from comes back:
    fwupdtool install (with fwupd's version check) reports it done, says the version was not
    read back, the warning names what the plugin saw, and bank 0 holds the image. Returns the
    run and the devices the next fwupdtool lists."""
    run = BleRun(build, name, ["--mode", "bootloader", "--app-valid", "--app-version", "6"] +
                 sim_args, ts)
    cab = make_cabinet(run, build)
    before = run.devices()
    check([d.get("Version") for d in before] == ["6"],
          "expected one device at version 6 before: %s" % before)
    started = time.monotonic()
    rc, out, err = run.fwupdtool(["install", cab, "--force"], timeout=150)
    elapsed = time.monotonic() - started
    after = run.devices()
    s = run.finish()
    log = out + err
    check(rc == 0, "fwupdtool install failed (%d):\n%s" % (rc, log[-3000:]))
    check(NOT_READ_BACK in log, "fwupdtool does not say the version was not read back:\n" +
          log[-3000:])
    check(warning in log, "the warning does not say %r:\n%s" % (warning, log[-3000:]))
    # the plugin ends fwupd's wait itself, within its own bound (10 s after an application)
    check(elapsed < 15, "the install took %.1f s" % elapsed)
    check(s["images_activated"] == 1 and s["app_valid"] and s["app_version"] == 7,
          "image not activated at version 7")
    run.check_app_flashed(build)
    print("%s: done in %.1f s, listed after: %s" %
          (name, elapsed, [(d.get("Name"), d.get("Version")) for d in after]))
    return run, after


def case_cabinet_app_no_dfu(build, ts):
    """The application the update starts has no buttonless service: it is no device of this
    plugin, and the next fwupdtool lists nothing of it."""
    run, after = case_ending_unverified(build, ts, "cabinet-app-no-dfu", ["--app-no-dfu"],
                                        "has no Secure DFU service")
    check(after == [], "listed after the update: %s" % after)
    check(run.events("connect"), "the plugin did not connect what came back")


def case_cabinet_app_silent(build, ts):
    """The application never advertises after the activation reset (or is out of range):
    nothing connects within the plugin's bound, and nothing is listed after."""
    run, after = case_ending_unverified(build, ts, "cabinet-app-silent", ["--app-silent"],
                                        "connected within 10000 ms of the reset")
    check(after == [], "listed after the update: %s" % after)
    check(run.events("app-silent"), "the application advertised")


def case_cabinet_app_no_fw_revision(build, ts):
    """The application has the buttonless service but no Device Information firmware
    revision: it replaces the bootloader without a version of its own; fwupd's check does not
    fail, and the next fwupdtool lists the application, without a version."""
    run, after = case_ending_unverified(build, ts, "cabinet-app-no-fw-revision",
                                        ["--app-no-fw-revision"],
                                        "no Device Information firmware revision")
    check(len(after) == 1 and after[0].get("Version") is None,
          "expected the application listed without a version: %s" % after)


def case_cabinet_app_unpaired(build, ts):
    """BlueZ holds no pairing for the application that comes back: fwupd's BlueZ backend does
    not offer it, so nothing replaces the bootloader; the warning says to pair it."""
    run, after = case_ending_unverified(build, ts, "cabinet-app-unpaired", ["--app-unpaired"],
                                        "is not paired")
    check(after == [], "listed after the update: %s" % after)


def case_cabinet_bootloader_stays(build, ts):
    """The bootloader answers the last execute and stays connected in DFU mode: after its
    bound the plugin reads its versions where it is (fwupd's check of the old version 6
    against the release would fail without), and the next fwupdtool lists it at 7."""
    run = BleRun(build, "cabinet-bootloader-stays",
                 ["--mode", "bootloader", "--app-valid", "--app-version", "6",
                  "--bootloader-stays"], ts)
    cab = make_cabinet(run, build)
    rc, out, err = run.fwupdtool(["install", cab, "--force", "--verbose"], timeout=150)
    after = run.devices()
    s = run.finish()
    log = out + err
    check(rc == 0, "fwupdtool install failed (%d):\n%s" % (rc, log[-3000:]))
    check(NOT_READ_BACK not in log, "the version was read back, yet said it was not")
    check(run.events("bootloader-stays"), "the bootloader reset")
    check(s["images_activated"] == 1 and s["app_version"] == 7, "image not activated")
    run.check_app_flashed(build)
    check([d.get("Version") for d in after] == ["7"],
          "listed after the install at %s, not 7" % [d.get("Version") for d in after])


def case_signature_refused(build, ts):
    """A bootloader with a key refuses the unsigned init packet on its execute: the update fails
    with the bootloader's error named, and nothing is activated."""
    run = BleRun(build, "signature-refused",
                 ["--mode", "bootloader", "--app-valid", "--app-version", "6",
                  "--require-signature"], ts)
    cab = make_cabinet(run, build)
    rc, out, err = run.fwupdtool(["install", cab, "--force"], timeout=150)
    after = run.devices()
    s = run.finish()
    log = out + err
    check(rc != 0, "install succeeded although the bootloader refused the image")
    check("signature" in log, "the bootloader's error is not named:\n" + log[-3000:])
    check(NOT_READ_BACK not in log, "reported done")
    check(s["images_activated"] == 0 and s["app_version"] == 6, "an image was activated")
    check([d.get("Version") for d in after] == ["6"],
          "listed after at %s, not 6" % [d.get("Version") for d in after])


def case_final_answer_lost(build, ts):
    """The link drops with the answer to the final execute (the bootloader activated the image
    and reset before its answer went out): nothing the protocol says tells that from a refusal,
    so the update fails, saying so and what to do, at once, without a resume that would look
    for a bootloader that is gone. The image is in bank 0 all the same."""
    run = BleRun(build, "final-answer-lost",
                 ["--mode", "bootloader", "--app-valid", "--app-version", "6",
                  "--lose-final-answer"], ts)
    cab = make_cabinet(run, build)
    started = time.monotonic()
    rc, out, err = run.fwupdtool(["install", cab, "--force"], timeout=150)
    elapsed = time.monotonic() - started
    s = run.finish()
    log = out + err
    check(rc != 0, "install succeeded although the final execute was not answered")
    check("before the bootloader answered the final execute" in log and
          "run the update again" in log,
          "the error does not say what is known and what to do:\n" + log[-3000:])
    check(NOT_READ_BACK not in log, "reported done")
    check(run.events("final-answer-lost"), "the answer was not lost")
    check(s["ble"]["connects"] == 0, "the plugin connected again to resume")
    check(elapsed < 10, "the install took %.1f s" % elapsed)
    run.check_app_flashed(build)


CASES = {
    "update": case_update,
    "small-mtu": case_small_mtu,
    "max-mtu": case_max_mtu,
    "buttonless-unbonded": lambda b, t: case_buttonless(b, t, False),
    "buttonless-bonded": lambda b, t: case_buttonless(b, t, True),
    "drop-link-resume": case_drop_link,
    "drop-link-late-services": case_drop_link_late_services,
    "drop-link-write-value": case_drop_link_write_value,
    "buttonless-refused": case_buttonless_refused,
    "buttonless-silent": case_buttonless_silent,
    "bootloader-absent": case_bootloader_absent,
    "discovery-refused": case_discovery_refused,
    "buttonless-stays": case_buttonless_stays,
    "bad-hash": case_bad_hash,
    "wrong-hw-version": case_wrong_hw,
    "cabinet": lambda b, t: case_cabinet(b, t, "bootloader"),
    "cabinet-buttonless-unbonded": lambda b, t: case_cabinet(b, t, "buttonless-unbonded"),
    "cabinet-buttonless-bonded": lambda b, t: case_cabinet(b, t, "buttonless-bonded"),
    "cabinet-connect-hangs": case_cabinet_connect_hangs,
    "buttonless-again-connect-hangs": case_buttonless_again_connect_hangs,
    "cabinet-app-no-dfu": case_cabinet_app_no_dfu,
    "cabinet-app-no-dfu-will-disappear": case_cabinet_app_no_dfu_will_disappear,
    "cabinet-app-silent": case_cabinet_app_silent,
    "cabinet-app-no-fw-revision": case_cabinet_app_no_fw_revision,
    "cabinet-bootloader-stays": case_cabinet_bootloader_stays,
    "cabinet-app-unpaired": case_cabinet_app_unpaired,
    "final-answer-lost": case_final_answer_lost,
    "signature-refused": case_signature_refused,
    "hostile-wrong-length": case_hostile_wrong_length,
    "hostile-unsolicited": case_hostile_unsolicited,
}


def time_scale_option(parser):
    parser.add_argument("--time-scale", default=TIME_SCALE)


def run_and_stop(case, args):
    try:
        case(os.path.abspath(args.build), args.time_scale)
    finally:
        for run in RUNS:
            run.stop()


def main():
    return run_case_cli(CASES, run_and_stop, time_scale_option)


if __name__ == "__main__":
    sys.exit(main())
