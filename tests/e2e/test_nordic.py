#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""End-to-end tests of the nordic-dfu plugin: Debian's fwupdtool loading our module flashes
nrfutil packages (plugins/nordic-dfu/tests/make-nrfutil-package.py) into the simulated nRF5 SDK
Secure DFU bootloader (tests/usbsim/usbsim-nrf-run) over its USB CDC ACM front (the nRF52840
Dongle) or its UART front (a tty behind a J-Link's CDC port). Checks the flash the model dumps
and what it recorded, never elapsed time; back-after-activation runs at real time, so that the
device is away for a while after its last reset, and cabinet installs as fwupdmgr does, so that
fwupd checks the version the device reports afterwards.

  test_nordic.py --build BUILD CASE [--front usb|uart]
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile

from e2e_common import check, check_install_failed, profiles, run_case_cli

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
MAKE_PACKAGE = os.path.join(TOP, "plugins", "nordic-dfu", "tests",
                            "make-nrfutil-package.py")
MAKE_CABINET = os.path.join(TOP, "contrib", "make-cabinet")
RUN_FWUPDTOOL = os.path.join(TOP, "tests", "run-fwupdtool")
TIME_SCALE = "0.05"


def nrf_profile(build, front):
    """usbsim-nrf-run's profile on that front: its name, IDs and flash map (app_start, ...)."""
    return [p for p in profiles(build, "usbsim-nrf-run").values() if p["front"] == front][0]


class NrfRun:
    """One package, one simulated bootloader, one fwupdtool session."""

    def __init__(self, build, name, front, images, package_args=(), sim_args=(),
                 time_scale=TIME_SCALE):
        self.build = os.path.abspath(build)
        self.front = front
        self.model = nrf_profile(self.build, front)
        self.time_scale = time_scale
        self.dir = os.path.join(self.build, "e2e", "nordic-%s-%s" % (name, front))
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.package = os.path.join(self.dir, "package.zip")
        subprocess.run(["/usr/bin/python3", MAKE_PACKAGE, self.package] + list(images) +
                       list(package_args), check=True)
        with zipfile.ZipFile(self.package) as zf:
            self.manifest = json.loads(zf.read("manifest.json"))["manifest"]
            self.bins = {kind: zf.read(entry["bin_file"])
                         for kind, entry in self.manifest.items() if isinstance(entry, dict)}
        self.sim_args = list(sim_args)
        self.flash_out = os.path.join(self.dir, "flash-out.bin")
        self.trace = os.path.join(self.dir, "trace.jsonl")
        self.result_path = os.path.join(self.dir, "result.json")
        self.result = {}
        self.summary = {}
        self.records = []

    def harness(self):
        """The simulator's command line, up to the client's."""
        return [os.path.join(self.build, "tests", "usbsim", "usbsim-nrf-run"),
                "--profile", self.model["name"], "--time-scale", self.time_scale,
                "--flash-out", self.flash_out, "--trace", self.trace,
                "--timeout", "150"] + self.sim_args

    def read_trace(self):
        with open(self.trace, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                if rec.get("summary"):
                    self.summary = rec
                else:
                    self.records.append(rec)

    def run(self, retry=False):
        cmd = self.harness()
        cmd += ["--", "/usr/bin/python3", os.path.join(HERE, "fwupd_client.py"),
                "--build", self.build, "--plugin", "nordic_dfu", "--result", self.result_path,
                "--install", self.package, "--timeout", "60"]
        if retry:
            cmd += ["--retry"]
        env = dict(os.environ, FWUPD_TEST_STATE_DIR=os.path.join(self.dir, "fwupd"))
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        self.harness_stderr = proc.stderr
        check(proc.returncode != 124, "the client hung and the harness killed it")
        check(proc.returncode != 125, "the harness could not start:\n" + proc.stderr)
        if os.path.exists(self.result_path):
            with open(self.result_path, encoding="utf-8") as f:
                self.result = json.load(f)
        self.read_trace()
        check(self.result.get("before"), "fwupdtool showed no nordic_dfu device:\n%s\n%s" %
              (self.result.get("before_stderr", ""), proc.stderr[-3000:]))
        return self

    def stderr(self, key="install"):
        return self.result.get(key, {}).get("stderr", "")

    def flash(self):
        with open(self.flash_out, "rb") as f:
            return f.read()

    def events(self, name):
        return [r for r in self.records if r.get("event") == name]

    def requests(self, name):
        return [r for r in self.records if r.get("request") == name]

    def check_installed(self, key="install"):
        inst = self.result.get(key, {})
        check(inst.get("rc") == 0, "install failed (rc %s):\n%s" % (inst.get("rc"),
                                                                    self.stderr(key)))

    def check_app(self):
        app = self.bins["application"]
        start = self.model["app_start"]
        check(self.flash()[start:start + len(app)] == app,
              "bank 0 does not hold the application byte-exact")
        check(self.summary.get("app_valid"), "the bootloader holds no valid application")

    def check_sd_bl(self, sd_size, bl_size):
        image = self.bins["softdevice_bootloader"]
        flash = self.flash()
        sd_start, bl_start = self.model["sd_start"], self.model["bl_start"]
        check(flash[sd_start:sd_start + sd_size] == image[:sd_size],
              "the SoftDevice region does not hold the new SoftDevice")
        check(flash[bl_start:bl_start + bl_size] == image[sd_size:],
              "the bootloader region does not hold the new bootloader")

    def check_refused(self, *needles):
        check_install_failed(self.result.get("install", {}), needles)
        check(not self.events("write"), "the device was written before the refusal")
        check(not self.events("erase"), "the device was erased before the refusal")


def case_app(build, front):
    r = NrfRun(build, "app", front, ["application=10000"], ["--fw-version", "7"]).run()
    r.check_installed()
    r.check_app()
    check(r.summary["objects_data"] == 3, "expected 3 data objects: %s" % r.summary)
    check(r.summary["images_activated"] == 1, "the image was not activated")
    check(r.summary["limit_physical_ms"] > 0, "no physical limit in the summary")
    after = r.result.get("after") or r.result.get("final") or []
    if front == "usb":
        check(after and after[0]["Version"] == "7",
              "fwupd reads back %s" % (after[0]["Version"] if after else None))


def case_sd(build, front):
    r = NrfRun(build, "sd", front, ["softdevice=8192"], ["--sd-req", "0x100"]).run()
    r.check_installed()
    sd = r.bins["softdevice"]
    sd_start = r.model["sd_start"]
    check(r.flash()[sd_start:sd_start + len(sd)] == sd, "the SoftDevice was not activated")
    check(not r.summary["app_valid"], "a new SoftDevice must invalidate the application")


def case_sd_bl(build, front):
    r = NrfRun(build, "sd-bl", front, ["softdevice_bootloader=8192+4096"],
               ["--sd-req", "0x100", "--fw-version", "2"]).run()
    r.check_installed()
    r.check_sd_bl(8192, 4096)
    check(r.summary["bootloader_version"] == 2, "the bootloader version is not the new one")


def case_combined(build, front):
    # the longest reset the SDK takes after a SoftDevice+bootloader image
    r = NrfRun(build, "combined", front,
               ["softdevice_bootloader=8192+4096", "application=6000"],
               ["--sd-req", "0x100", "--fw-version", "3"],
               ["--reenumerate-ms", "13000"]).run()
    r.check_installed()
    r.check_sd_bl(8192, 4096)
    r.check_app()
    types = [img["type"] for img in r.summary["images"]]
    check(types == [3, 0], "images activated in order %s, not SD+BL then application" % types)
    check(r.summary["resets"] >= 2, "the device did not reset after each image")


def case_resume(build, front):
    # 20000 bytes: 5 objects; the device resets in the middle of the third
    writes_per_object = 4 if front == "usb" else 64
    nth = 2 * writes_per_object + 2
    r = NrfRun(build, "resume", front, ["application=20000"], ["--fw-version", "7"],
               ["--reset-after-writes", str(nth)]).run(retry=True)
    check(r.summary["resets"] >= 1, "the device never reset")
    if r.result.get("install", {}).get("rc") != 0:
        r.check_installed("retry")
    r.check_app()
    reset_t = [e["t_ms"] for e in r.events("reset") if e.get("reason") == "reset-after-writes"][0]
    later = [e for e in r.events("write") if e["t_ms"] > reset_t]
    check(later, "nothing was written after the reset")
    first = min(e["address"] for e in later)
    check(first == r.model["app_start"] + 2 * r.model["page_size"],
          "after the reset writing restarted at 0x%x, not at the third object" % first)
    check(r.summary["bytes_stored"] < 20000 + 3 * 4096,
          "more than the unsent objects was sent again: %d bytes" % r.summary["bytes_stored"])


def case_back_after_activation(build, front):
    """At real time, after its reply to the last execute the bootloader writes its settings
    (about 90 ms) and resets; it is back 1.5 s later, as after a slow hub chain or a
    bootloader that copies the image first (up to 13 s after a SoftDevice+bootloader image).
    On USB the Dongle is off the bus meanwhile; on a UART the tty stays but nothing answers.
    fwupd must wait for it and report the version it reads from it: a session that ends while
    the device is away leaves the next listing without it."""
    r = NrfRun(build, "back-after-activation", front, ["application=10000"],
               ["--fw-version", "7"],
               ["--app-valid", "--app-version", "6", "--reenumerate-ms", "1500"],
               time_scale="1.0").run()
    before = r.result["before"][0]
    check(before["Version"] == "6", "the device starts at version %s, not 6" % before["Version"])
    r.check_installed()
    r.check_app()
    resets = [e for e in r.events("reset") if e.get("reason") == "activated"]
    check(resets, "the device did not reset after activating the image")
    after = r.result.get("after") or []
    check(after, "no nordic_dfu device listed right after the install: fwupdtool ended "
          "%.2f s after it started, before the device was back (reset at %.2f s, back at "
          "%.2f s of the simulation)" %
          (r.result["install"]["seconds"], resets[-1]["t_ms"] / 1000,
           resets[-1]["back_ms"] / 1000))
    check([e for e in r.events("boot") if e["t_ms"] > resets[-1]["t_ms"]],
          "the device did not come back after its reset")
    check(after[0]["DeviceId"] == before["DeviceId"],
          "listed after the install as %s, not as %s" %
          (after[0]["DeviceId"], before["DeviceId"]))
    check(after[0]["Version"] == "7", "listed after the install at version %s, not 7" %
          after[0]["Version"])


# the quirk groups of the simulated bootloaders (tests/quirks/nordic-dfu-sim.quirk), on the
# IDs of the profile's USB device; a UART is only taken with its flag uart
QUIRK_GROUPS = {"usb": ("USB\\VID_%04X&PID_%04X", "will-disappear"),
                "uart": ("NRFDFU_UART\\VID_%04X&PID_%04X", "uart,will-disappear")}


def case_cabinet(build, front, will_disappear=False):
    """A cabinet installed as fwupdmgr installs it (fwupdtool install, not install-blob): after
    the update fwupd compares the version the device reports with the release's and fails an
    install that left the old one, so the plugin must read the version of the bootloader that
    came back from its activation reset. With the quirk flag will-disappear (an application
    that never comes back as a device of this plugin) nothing is waited for or read, and the
    install is reported done, unverified, not failed with "device version not updated"."""
    name = "cabinet-will-disappear" if will_disappear else "cabinet"
    # with will-disappear at real time, the device is away for a while after its last reset
    # (1.5 s, as in back-after-activation) while fwupd still lists it at the old version
    sim_args = ["--app-valid", "--app-version", "6"]
    if will_disappear:
        sim_args += ["--reenumerate-ms", "1500"]
    r = NrfRun(build, name, front, ["application=10000"], ["--fw-version", "7"], sim_args,
               time_scale="1.0" if will_disappear else TIME_SCALE)
    cab = os.path.join(r.dir, "firmware.cab")
    proc = subprocess.run([MAKE_CABINET, r.package, "--out", cab, "--id",
                           "org.usbsim.nrf52.firmware", "--name", "Simulated nRF52",
                           "--instance-id", "NRFDFU\\PART_52840", "--release-notes", "test",
                           "-q"], capture_output=True, text=True)
    check(proc.returncode == 0, "make-cabinet failed:\n" + proc.stderr)
    log = os.path.join(r.dir, "install.log")
    listing = os.path.join(r.dir, "after.json")
    # the client: install, then list the devices as the user would next
    script = ('"$0" "$1" install "$2" --force --plugins nordic_dfu >"$3" 2>&1; rc=$?; '
              '"$0" "$1" get-devices --json --plugins nordic_dfu >"$4" 2>/dev/null; exit $rc')
    cmd = r.harness() + ["--", "/bin/sh", "-c", script, RUN_FWUPDTOOL, r.build, cab, log, listing]
    env = dict(os.environ, FWUPD_TEST_STATE_DIR=os.path.join(r.dir, "fwupd"))
    if will_disappear:
        quirk = os.path.join(r.dir, "will-disappear.quirk")
        group, flags = QUIRK_GROUPS[front]
        group = group % (r.model["vid"], r.model["pid"])
        with open(quirk, "w", encoding="utf-8") as f:
            f.write("[%s]\nFlags = %s\n" % (group, flags))
        env["FWUPD_TEST_EXTRA_QUIRKS"] = quirk
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    check(proc.returncode != 124, "the client hung and the harness killed it")
    with open(log, encoding="utf-8") as f:
        # without the progress lines
        out = "".join(line for line in f if "\u2026: " not in line)
    check(proc.returncode == 0, "fwupdtool install failed (%d):\n%s" %
          (proc.returncode, out[-3000:]))
    with open(r.trace, encoding="utf-8") as f:
        r.summary = [json.loads(line) for line in f if '"summary"' in line][-1]
    r.check_app()
    if will_disappear:
        return
    with open(listing, encoding="utf-8") as f:
        text = f.read()
    devices = json.loads(text[text.find("{"):]).get("Devices", []) if "{" in text else []
    versions = [d.get("Version") for d in devices if d.get("Plugin") == "nordic_dfu"]
    check(versions == ["7"], "listed after the install at versions %s, not 7" % versions)


# what fwupdtool and fwupdmgr print after an update whose version was not read back
NOT_READ_BACK = "its version could not be read back"


def run_cabinet(r, cab_args, quirk=None):
    """Installs r's package as a cabinet, as fwupdmgr does, between two device listings with
    the shipped and simulated quirks (plus @quirk); returns (rc, output without the progress
    lines, devices before, devices after)."""
    cab = os.path.join(r.dir, "firmware.cab")
    proc = subprocess.run([MAKE_CABINET, r.package, "--out", cab, "--id",
                           "org.usbsim.nrf52.firmware", "--name", "Simulated nRF52",
                           "--release-notes", "test", "-q"] + cab_args,
                          capture_output=True, text=True)
    check(proc.returncode == 0, "make-cabinet failed:\n" + proc.stderr)
    log = os.path.join(r.dir, "install.log")
    listings = [os.path.join(r.dir, "before.json"), os.path.join(r.dir, "after.json")]
    script = ('"$0" "$1" get-devices --json --plugins nordic_dfu >"$4" 2>/dev/null; '
              '"$0" "$1" install "$2" --force --plugins nordic_dfu >"$3" 2>&1; rc=$?; '
              '"$0" "$1" get-devices --json --plugins nordic_dfu >"$5" 2>/dev/null; exit $rc')
    cmd = r.harness() + ["--", "/bin/sh", "-c", script, RUN_FWUPDTOOL, r.build, cab, log] + listings
    env = dict(os.environ, FWUPD_TEST_STATE_DIR=os.path.join(r.dir, "fwupd"))
    if quirk is not None:
        path = os.path.join(r.dir, "extra.quirk")
        with open(path, "w", encoding="utf-8") as f:
            f.write(quirk)
        env["FWUPD_TEST_EXTRA_QUIRKS"] = path
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    check(proc.returncode != 124, "the client hung and the harness killed it")
    with open(log, encoding="utf-8") as f:
        out = "".join(line for line in f if "\u2026: " not in line)
    r.read_trace()
    devices = []
    for path in listings:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        found = json.loads(text[text.find("{"):]).get("Devices", []) if "{" in text else []
        devices.append([d for d in found if d.get("Plugin") == "nordic_dfu"])
    return proc.returncode, out, devices[0], devices[1]


def case_app_gone(build, front, app_runs):
    """The Dongle, or a UART board, with its shipped quirks only, updated from its bootloader
    (entered with the reset button) to an application that is no device of this plugin: on
    USB one without USB at all, which leaves the bus for good, or one with a serial port of its
    own on other IDs; on a UART one that owns the port and says nothing, or writes its own log
    lines and frames. The final execute was answered,
    so the update is done, and fwupd says the version was not read back instead of failing
    with "did not come back" or waiting for ever."""
    r = NrfRun(build, "app-" + app_runs, front, ["application=10000"], ["--fw-version", "7"],
               ["--app-valid", "--app-version", "6", "--app-runs", app_runs, "--dfu-mode"])
    rc, out, before, after = run_cabinet(r, ["--instance-id", "NRFDFU\\PART_52840"])
    check(before and before[0]["Version"] == "6",
          "the bootloader is not listed at version 6 before: %s" % before)
    check(rc == 0, "fwupdtool install failed (%d):\n%s" % (rc, out[-3000:]))
    check(NOT_READ_BACK in out, "fwupdtool does not say the version was not read back:\n" +
          out[-3000:])
    r.check_app()
    check(r.summary["app_running"], "the device does not run the application at the end")
    booted = [e for e in r.events("boot") if e.get("runs") == "application"]
    check(booted, "the application never started after the update")
    check(not after, "listed after the update although nothing of the plugin's is there: %s"
          % after)
    if app_runs == "uart-log":
        check(r.summary["app_log_lines"] > 0, "the application wrote nothing to its port")
        check([e for e in r.events("dropped") if e.get("reason") == "application"],
              "the plugin did not ask the port again after the reset")


def case_app_dfu_trigger(build, front):
    """An application with the SDK's DFU trigger interface (its own IDs, linked to the Dongle's
    bootloader by CounterpartGuid): listed at the version of its SEMVER, detached into the
    bootloader, updated, and back as the runtime device at the new version, which fwupd checks
    against the release's. The package's fw_version is nrfutil's for
    --application-version-string 1.3.0."""
    r = NrfRun(build, "app-dfu-trigger", front, ["application=10000"],
               ["--fw-version", "10300"],
               ["--app-valid", "--app-version", "10203", "--app-runs", "dfu-trigger"])
    rc, out, before, after = run_cabinet(r, ["--instance-id", "USB\\VID_1209&PID_0030",
                                             "--version", "1.3.0",
                                             "--version-format", "triplet"])
    check(before and before[0]["Version"] == "1.2.3" and
          "USB\\VID_1209&PID_0030" in before[0].get("InstanceIds", []),
          "the runtime device is not listed at version 1.2.3 before: %s" % before)
    check(rc == 0, "fwupdtool install failed (%d):\n%s" % (rc, out[-3000:]))
    check(NOT_READ_BACK not in out, "the version was read back, but fwupdtool says not:\n" +
          out[-3000:])
    r.check_app()
    detach = [rec for rec in r.records if rec.get("request") == "detach"]
    check(len(detach) == 1, "%d DETACH requests, not one" % len(detach))
    runs = [e.get("runs") for e in r.events("boot")]
    check(runs == ["bootloader", "application"],
          "booted %s, not the bootloader after DETACH then the new application" % runs)
    check(after and after[0]["Version"] == "1.3.0" and
          "USB\\VID_1209&PID_0030" in after[0].get("InstanceIds", []),
          "the runtime device is not listed at version 1.3.0 after: %s" % after)


def away_ms(reset):
    """How long a reset kept the bootloader away. The trace gives both times to the
    microsecond, so the difference is rounded to it: a float subtraction may fall just short
    (16657.85 - 3657.85 < 13000)."""
    return round(reset["back_ms"] - reset["t_ms"], 3)


def case_combined_slow(build, front):
    """At real time, a package of a SoftDevice+bootloader and an application: after the first
    image the bootloader copies the new SoftDevice and bootloader into place and is back only
    13 s later (the longest such a copy takes on an nRF52); the plugin (UART) or fwupd's
    replug wait (USB) must last as long, then the application is written to the new bootloader."""
    r = NrfRun(build, "combined-slow", front,
               ["softdevice_bootloader=8192+4096", "application=6000"],
               ["--sd-req", "0x100", "--fw-version", "3"], ["--sd-bl-back-ms", "13000"],
               time_scale="1.0").run()
    r.check_installed()
    r.check_sd_bl(8192, 4096)
    r.check_app()
    resets = [e for e in r.events("reset") if e.get("reason") == "activated"]
    check(len(resets) >= 2 and away_ms(resets[0]) >= 13000,
          "the bootloader was not away for 13 s after the first image: %s" % resets)
    types = [img["type"] for img in r.summary["images"]]
    check(types == [3, 0], "images activated in order %s, not SD+BL then application" % types)


def case_sd_bl_slow(build, front):
    """At real time, the bootloader copies a SoftDevice+bootloader image into place after its
    reset and is back only 13 s later (the longest such a copy takes on an nRF52): the plugin
    must wait for it as long, and read the new bootloader's version from it, not give up and
    report the update unverified."""
    r = NrfRun(build, "sd-bl-slow", front, ["softdevice_bootloader=8192+4096"],
               ["--sd-req", "0x100", "--fw-version", "2"], ["--reenumerate-ms", "13000"],
               time_scale="1.0").run()
    r.check_installed()
    r.check_sd_bl(8192, 4096)
    check(NOT_READ_BACK not in r.stderr() + r.result["install"]["stdout"],
          "the plugin gave up on the bootloader before it was back")
    resets = [e for e in r.events("reset") if e.get("reason") == "activated"]
    check(resets and away_ms(resets[-1]) >= 13000,
          "the bootloader was not away for 13 s: %s" % resets)
    boots = [e for e in r.events("boot") if e["t_ms"] > resets[-1]["t_ms"]]
    check(boots, "the bootloader did not come back")
    # three FW version requests (bootloader, SoftDevice, application) by the install's reload,
    # three by the listing after it
    read = [q for q in r.requests("fw_version") if q["t_ms"] > boots[0]["t_ms"]]
    check(len(read) >= 6, "the install did not read the versions of the bootloader that came "
          "back (%d FW version requests after its return)" % len(read))
    check(r.summary["bootloader_version"] == 2, "the bootloader version is not the new one")


def refusal(name, images, package_args, needles):
    def run(build, front):
        r = NrfRun(build, name, front, images, package_args).run()
        r.check_refused(*needles)
    return run


def recovery(name, fault, not_fired, words, unclear):
    """One fault (sim_args) during an application update: it fires once, and either the
    plugin gets past it or the install fails with an error that has one of words and the
    same update run again completes."""
    def run(build, front):
        r = NrfRun(build, name, front, ["application=10000"], ["--fw-version", "7"],
                   fault).run(retry=True)
        check(r.summary["faults_fired"] == 1, not_fired)
        inst = r.result["install"]
        if inst["rc"] != 0:
            check(any(word in inst["stderr"].lower() for word in words),
                  unclear + ":\n" + inst["stderr"])
            r.check_installed("retry")
        r.check_app()
    return run


def case_ext_error(build, front):
    r = NrfRun(build, "ext-error", front, ["application=10000"], ["--fw-version", "7"],
               ["--ext-error", "execute:1:0x0D"]).run()
    inst = r.result["install"]
    check(inst["rc"] != 0, "an extended error on the init packet was ignored")
    check("space" in inst["stderr"].lower() or "0x0d" in inst["stderr"].lower(),
          "the error does not say insufficient space:\n" + inst["stderr"])


CASES = {
    "app": case_app,
    "sd": case_sd,
    "sd-bl": case_sd_bl,
    "combined": case_combined,
    "resume": case_resume,
    "refuse-hw-version": refusal("hw", ["application=4096"], ["--hw-version", "53"],
                                 ["hw_version"]),
    "refuse-sd-req": refusal("sd-req", ["application=4096"], ["--sd-req", "0x200"], ["sd_req"]),
    "refuse-hash": refusal("hash", ["application=4096"], ["--bad-hash"], ["hash"]),
    "refuse-size": refusal("size", ["application=4096"], ["--bad-size"], ["size"]),
    "drop-response": recovery("drop-response", ["--drop-response", "16"],
                              "the response was not dropped", ["reply", "timed out"],
                              "no clear error for a lost reply"),
    "corrupt-write": recovery("corrupt-write", ["--corrupt-write", "3"], "no write was corrupted",
                              ["crc"], "no CRC error"),
    "ext-error": case_ext_error,
    "back-after-activation": case_back_after_activation,
    "cabinet": case_cabinet,
    "cabinet-will-disappear": lambda build, front: case_cabinet(build, front, True),
    "app-silent": lambda build, front: case_app_gone(build, front, "silent"),
    "app-uart-log": lambda build, front: case_app_gone(build, front, "uart-log"),
    "app-dfu-trigger": case_app_dfu_trigger,
    "app-other-usb": lambda build, front: case_app_gone(build, front, "other-usb"),
    "combined-slow": case_combined_slow,
    "sd-bl-slow": case_sd_bl_slow,
}


# the fronts meson runs each case on (--list): a case not named here runs on both
FRONTS = {
    "app-uart-log": ["uart"],
    "app-dfu-trigger": ["usb"],
    "app-other-usb": ["usb"],
}


def fronts(case):
    return FRONTS.get(case, ["usb", "uart"])


def front_option(parser):
    parser.add_argument("--front", choices=["usb", "uart"], default="usb")


def main():
    return run_case_cli(CASES, lambda case, args: case(args.build, args.front), front_option,
                        fronts, needs_root=True)


if __name__ == "__main__":
    sys.exit(main())
