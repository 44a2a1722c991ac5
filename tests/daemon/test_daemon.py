#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The path users take: Debian's fwupd daemon, loading our modules from the build tree, on a
private system bus with a mock polkit, updates a simulated device when the real fwupdmgr
installs a cabinet made by contrib/make-cabinet from the vendor's artifact.

  test_daemon.py --build BUILD CASE

Each case checks the flash byte for byte (the simulator's dump), the version fwupdmgr shows
after the update, the history the daemon recorded, and that no process of the run is left.
fwupdmgr's progress is printed as it showed it.
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))

from e2e_common import VERSION_NEW, VERSION_OLD, Failure, Run, bcd, check  # noqa: E402

MAKE_CABINET = os.path.join(TOP, "contrib", "make-cabinet")
CLIENT = os.path.join(HERE, "daemon_client.py")
UPDATE_STATE_SUCCESS = 2
COBS_SCALE = 0.02

# One device of each plugin, each a line: the usbsim profile and how the run is set up, the
# vendor's artifact and the make-cabinet arguments for it, and the version the device
# reports after the update (None: it leaves for an application fwupd cannot see).
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
        "flash_offset": 0,
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
}


def make_cabinet(run, spec):
    cab = os.path.join(run.dir, "firmware.cab")
    notes = os.path.join(run.dir, "notes.txt")
    with open(notes, "w", encoding="utf-8") as f:
        f.write("Starts faster.\n\n- fixes the status LED\n- adds a low-power mode\n")
    cmd = [MAKE_CABINET, run.file, "--out", cab, "--id", "org.usbsim.%s.firmware" %
           run.profile.replace("-", "_"), "--name", "Simulated %s" % run.profile,
           "--developer-name", "usbsim", "--release-notes", "@" + notes,
           "--keep-metainfo", os.path.join(run.dir, "firmware.metainfo.xml")]
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


def run_case(build, name):
    spec = DEVICES[name]
    run = Run(build, "daemon-" + name, **spec["run"])
    cab = make_cabinet(run, spec)
    result_path = os.path.join(run.dir, "daemon-result.json")
    cmd = run.usbsim_cmd() + ["--", "/usr/bin/python3", CLIENT, "--build", run.build,
                              "--state", os.path.join(run.dir, "daemon"), "--plugin", run.plugin,
                              "--cabinet", cab, "--result", result_path]
    if run.quirk_file:
        cmd += ["--quirk", run.quirk_file]
    if spec["version_after"] is None:
        cmd += ["--wait-back", "0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    # fwupdmgr's progress and history, as a user saw them
    print(proc.stderr, end="")
    check(proc.returncode != 124, "the client hung and the harness killed it")
    check(os.path.exists(result_path), "the client wrote no result (status %d)" % proc.returncode)
    with open(result_path, encoding="utf-8") as f:
        result = json.load(f)

    # the daemon, polkit and the bus are gone, whatever happened
    left = [p for p in result.get("stopped", []) if pid_alive(p["pid"])]
    check(not left, "processes left running: %r" % left)
    daemon = [p for p in result.get("stopped", []) if p["cmd"].endswith("/fwupd")]
    log = os.path.join(run.dir, "daemon", "fwupd.log")
    check(not result.get("error"), "%s\n%s" % (result.get("error"), tail(log)))
    check(daemon and daemon[0]["rc"] == 0, "the daemon did not stop cleanly: %r\n%s" %
          (daemon, tail(log)))

    before = result.get("before", [])
    check(before, "fwupdmgr get-devices showed no %s device\n%s" % (run.plugin, tail(log)))
    install = [s for s in result["steps"] if s["name"] == "install"][0]
    check(install["rc"] == 0, "fwupdmgr install failed (%d):\n%s\n%s" %
          (install["rc"], install["stdout"][-3000:], tail(log)))

    image = run.read(run.image)
    offset = spec.get("flash_offset", 0)
    flash = run.flash()
    check(flash[offset:offset + len(image)] == image, "flash does not hold the image byte-exact")

    if spec["version_after"] is not None:
        after = result.get("after", [])
        check(after and after[0]["Version"] == spec["version_after"],
              "version after the update %r, expected %s" %
              ([d["Version"] for d in after], spec["version_after"]))

    # the history names the device, the old version, the release and success
    history = [d for d in result.get("history", []) if d.get("Plugin") == run.plugin]
    check(history, "no history entry for a %s device: %r" % (run.plugin, result.get("history")))
    entry = history[-1]
    check(entry.get("UpdateState") == UPDATE_STATE_SUCCESS,
          "history records update state %r" % entry.get("UpdateState"))
    check(entry.get("Version") == before[0]["Version"], "history's old version %r, device had %r"
          % (entry.get("Version"), before[0]["Version"]))
    release = (entry.get("Releases") or [{}])[0]
    version_new = spec["cabinet"][spec["cabinet"].index("--version") + 1]
    check(release.get("Version") == version_new, "history's release version %r" %
          release.get("Version"))
    check(release.get("AppstreamId", "").startswith("org.usbsim."),
          "history's release %r is not the cabinet's" % release.get("AppstreamId"))


def tail(path, size=6000):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "fwupd daemon log (end):\n" + f.read()[-size:]
    except OSError:
        return "(no daemon log)"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("case", choices=sorted(DEVICES))
    args = parser.parse_args()
    try:
        run_case(args.build, args.case)
    except Failure as exc:
        print("FAIL %s: %s" % (args.case, exc))
        return 1
    print("PASS %s" % args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
