#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The path users take: Debian's fwupd daemon, loading our modules from the build tree, on a
private system bus with a mock polkit, updates a simulated device when the real fwupdmgr
installs a cabinet made by contrib/make-cabinet from the vendor's artifact.

  test_daemon.py --build BUILD CASE

Each case checks the flash byte for byte (the simulator's dump), the version fwupdmgr shows
after the update, the history the daemon recorded, and that no process of the run is left.
fwupdmgr's progress is printed as it showed it.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))

from e2e_common import VERSION_NEW, Run, bcd, run_case_cli, check  # noqa: E402

MAKE_CABINET = os.path.join(TOP, "contrib", "make-cabinet")
MAKE_NRF_PACKAGE = os.path.join(TOP, "plugins", "nordic-dfu", "tests",
                                "make-nrfutil-package.py")
CLIENT = os.path.join(HERE, "daemon_client.py")
UPDATE_STATE_SUCCESS = 2
COBS_SCALE = 0.02
NRF_APP_START = 0x27000

# One device of each plugin, each a line: the simulated device and how the run is set up
# ("run": tests/e2e's Run on usbsim-run; "nrf": usbsim-nrf-run), the make-cabinet arguments
# for the vendor's artifact, and the version the device reports after the update (None: it
# leaves for an application fwupd cannot see).
DEVICES = {
    # DFU 1.1, runtime -> DFU mode -> runtime; the vendor ships a .dfu file
    "dfu-stm32f1": {
        "run": dict(profile="stm32f1-dfu", mode="runtime", image_size=0xC000,
                    file_format="dfu"),
        "cabinet": ["--instance-id", "USB\\VID_1209&PID_0010",
                    "--instance-id", "USB\\VID_1209&PID_0011", "--version", bcd(VERSION_NEW)],
        "version_after": bcd(VERSION_NEW),
    },
    # the STM32F4 system bootloader (DfuSe); the vendor ships a raw .bin and its address,
    # which make-cabinet turns into a DfuSe file; the application it starts has no DFU
    # interface, so the device leaves fwupd's view (will-disappear)
    "dfuse-stm32f4": {
        "run": dict(profile="stm32f4-dfuse", mode="dfu", image_size=0x6000, file_format="bin"),
        "cabinet": ["--instance-id", "USB\\VID_0483&PID_DF11", "--protocol", "dfuse",
                    "--address", "0x08000000", "--version", bcd(VERSION_NEW)],
        "version_after": None,
    },
    # the COBS bootloader; the vendor ships a raw .bin. The protocol reads no version back:
    # the device's version is its quirk's, so the release carries that version (a re-install)
    "cobs-stm32h7": {
        "run": dict(profile="stm32h7-cobs", image_size=0x8000, file_format="bin",
                    plugin="cobs", time_scale=str(COBS_SCALE),
                    quirks="[USB\\VID_1209&PID_0020]\nCobsSectorEraseTime = %d\n"
                           "CobsWordProgramTime = %d\nCobsReplyTimeout = 250\n" %
                           (round(2000 * COBS_SCALE), round(200 * COBS_SCALE))),
        "cabinet": ["--instance-id", "USB\\VID_1209&PID_0020", "--protocol", "cobs",
                    "--version", "1.0.0"],
        "version_after": "1.0.0",
    },
    # the nRF52840 Dongle's Secure DFU bootloader; the vendor ships an nrfutil package, whose
    # application fw_version is the release version the bootloader then reports.
    # A recording runs at the device's own times, and the bootloader comes back 1.2 s after the
    # last image: fwupd's emulation data date each device to the second, and a replay takes the
    # device that comes back for a new one (re-plugged) only if it is dated a later second
    "nordic-nrf52840": {
        "nrf": dict(profile="nrf52840-dongle", images=["application=10000"],
                    package_args=["--fw-version", "7", "--sd-req", "0x100"],
                    record_args=["--time-scale", "1", "--reenumerate-ms", "1200"]),
        "cabinet": ["--instance-id", "USB\\VID_1915&PID_521F"],
        "version_after": "7",
    },
}


class Setup:
    """The artifact, the image it must leave in the flash, and the harness command."""

    def __init__(self, build, name, spec, recording=False):
        if "run" in spec:
            run = Run(build, "daemon-" + name, **spec["run"])
            self.dir, self.artifact, self.plugin = run.dir, run.file, run.plugin
            self.harness = run.usbsim_cmd()
            self.quirk_file = run.quirk_file
            self.image = run.read(run.image)
            self.flash_offset = 0
            self.flash_out = run.flash_out
            self.id = run.profile
            return
        nrf = spec["nrf"]
        self.dir = os.path.join(os.path.abspath(build), "e2e", "daemon-" + name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.artifact = os.path.join(self.dir, "app_dfu_package.zip")
        subprocess.run(["/usr/bin/python3", MAKE_NRF_PACKAGE, self.artifact] + nrf["images"] +
                       nrf["package_args"], check=True, stdout=subprocess.DEVNULL)
        with zipfile.ZipFile(self.artifact) as zf:
            manifest = json.loads(zf.read("manifest.json"))["manifest"]
            self.image = zf.read(manifest["application"]["bin_file"])
        self.plugin = "nordic_dfu"
        self.quirk_file = None
        self.flash_offset = NRF_APP_START
        self.flash_out = os.path.join(self.dir, "flash-out.bin")
        self.harness = [os.path.join(os.path.abspath(build), "tests", "usbsim", "usbsim-nrf-run"),
                        "--profile", nrf["profile"], "--time-scale", "0.05",
                        "--flash-out", self.flash_out,
                        "--trace", os.path.join(self.dir, "trace.jsonl"), "--timeout", "150"]
        # how the device ends the update, when it is not the bootloader coming back
        self.harness += nrf.get("sim_args", [])
        if recording:
            # the last --time-scale given is the one the harness takes
            self.harness += nrf.get("record_args", [])
        self.id = nrf["profile"]

    def flash(self):
        with open(self.flash_out, "rb") as f:
            return f.read()

    def check_flashed(self):
        offset = self.flash_offset
        check(self.flash()[offset:offset + len(self.image)] == self.image,
              "flash does not hold the image byte-exact")


def make_cabinet(setup, spec):
    cab = os.path.join(setup.dir, "firmware.cab")
    notes = os.path.join(setup.dir, "notes.txt")
    with open(notes, "w", encoding="utf-8") as f:
        f.write("Starts faster.\n\n- fixes the status LED\n- adds a low-power mode\n")
    cmd = [MAKE_CABINET, setup.artifact, "--out", cab, "--id", "org.usbsim.%s.firmware" %
           setup.id.replace("-", "_"), "--name", "Simulated %s" % setup.id,
           "--developer-name", "usbsim", "--release-notes", "@" + notes,
           "--keep-metainfo", os.path.join(setup.dir, "firmware.metainfo.xml")]
    proc = subprocess.run(cmd + spec["cabinet"], capture_output=True, text=True)
    check(proc.returncode == 0, "make-cabinet failed:\n%s%s" % (proc.stdout, proc.stderr))
    print(proc.stdout, end="")
    return cab


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii") as f:
            # a zombie is gone for every purpose but its exit status
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def release_version(setup):
    """The version of the release make_cabinet() wrote into the cabinet's metainfo."""
    with open(os.path.join(setup.dir, "firmware.metainfo.xml"), encoding="utf-8") as f:
        return re.search(r'<release version="([^"]+)"', f.read()).group(1)


def run_client(build, setup, spec, client_args):
    """daemon_client.py (client_args say what it does) under the simulator's harness, with the
    daemon's state in the run's directory. Prints fwupdmgr's output as a user saw it, checks
    that the daemon listed the device and that every process of the run is gone, and returns
    the client's result and the daemon's log."""
    result_path = os.path.join(setup.dir, "daemon-result.json")
    state = os.path.join(setup.dir, "daemon")
    cmd = setup.harness + ["--", "/usr/bin/python3", CLIENT, "--build", os.path.abspath(build),
                           "--state", state, "--plugin", setup.plugin,
                           "--result", result_path] + client_args
    if setup.quirk_file:
        cmd += ["--quirk", setup.quirk_file]
    if spec["version_after"] is None:
        cmd += ["--wait-back", "0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    print(proc.stderr, end="")
    check(proc.returncode != 124, "the client hung and the harness killed it")
    check(os.path.exists(result_path), "the client wrote no result (status %d)" % proc.returncode)
    with open(result_path, encoding="utf-8") as f:
        result = json.load(f)

    # the daemon, polkit, the bus (and a remote's HTTP server) are gone, whatever happened
    stopped = result.get("stopped", [])
    left = [p for p in stopped if pid_alive(p["pid"])]
    check(not left, "processes left running: %r" % left)
    log = os.path.join(state, "fwupd.log")
    check(not result.get("error"), "%s\n%s" % (result.get("error"), tail(log)))
    daemon = [p for p in stopped if p["cmd"].endswith("/fwupd")]
    check(daemon and daemon[0]["rc"] == 0, "the daemon did not stop cleanly: %r\n%s" %
          (daemon, tail(log)))
    check(result.get("before"), "fwupdmgr get-devices showed no %s device\n%s" %
          (setup.plugin, tail(log)))
    return result, log


def check_history(result, setup, version_new):
    """The history's last entry of the plugin's device records success, from the version the
    device had before to version_new; returns its release."""
    history = [d for d in result.get("history", []) if d.get("Plugin") == setup.plugin]
    check(history, "no history entry for a %s device: %r" % (setup.plugin,
                                                             result.get("history")))
    entry = history[-1]
    check(entry.get("UpdateState") == UPDATE_STATE_SUCCESS,
          "history records update state %r (%s)" % (entry.get("UpdateState"),
                                                    entry.get("UpdateError")))
    before = result["before"]
    check(entry.get("Version") == before[0]["Version"], "history's old version %r, device had %r"
          % (entry.get("Version"), before[0]["Version"]))
    release = (entry.get("Releases") or [{}])[0]
    check(release.get("Version") == version_new, "history's release version %r, the release's %s"
          % (release.get("Version"), version_new))
    return release


def run_case(build, name, record_emulation=None):
    spec = DEVICES[name]
    setup = Setup(build, name, spec, recording=bool(record_emulation))
    cab = make_cabinet(setup, spec)
    client_args = ["--cabinet", cab]
    if record_emulation:
        client_args += ["--record-emulation", os.path.abspath(record_emulation)]
    result, log = run_client(build, setup, spec, client_args)

    install = [s for s in result["steps"] if s["name"] == "install"][0]
    check(install["rc"] == 0, "fwupdmgr install failed (%d):\n%s\n%s" %
          (install["rc"], install["stdout"][-3000:], tail(log)))
    setup.check_flashed()

    if spec["version_after"] is not None:
        after = result.get("after", [])
        check(after and after[0]["Version"] == spec["version_after"],
              "version after the update %r, expected %s" %
              ([d["Version"] for d in after], spec["version_after"]))

    # the history names the device, the old version, the release and success
    release = check_history(result, setup, release_version(setup))
    check(release.get("AppstreamId", "").startswith("org.usbsim."),
          "history's release %r is not the cabinet's" % release.get("AppstreamId"))

    if record_emulation:
        save = [s for s in result["steps"] if s["name"] == "emulation-save"]
        error = (save[0]["stdout"] + save[0]["stderr"])[-2000:] if save else "not run"
        check(save and save[0]["rc"] == 0 and os.path.exists(record_emulation),
              "fwupdmgr emulation-save failed: %s" % error)
        print("emulation data of the update: %s" % record_emulation)


def tail(path, size=6000):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "fwupd daemon log (end):\n" + f.read()[-size:]
    except OSError:
        return "(no daemon log)"


def record_option(parser):
    parser.add_argument("--record-emulation", metavar="ZIP",
                        help="also record fwupd emulation data of the update into ZIP")


def main():
    return run_case_cli(
        DEVICES, lambda spec, args: run_case(args.build, args.case, args.record_emulation),
        record_option)


if __name__ == "__main__":
    sys.exit(main())
