#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The demo of contrib/demo: one real update of a simulated device, at the device's real speed."""

import argparse
import json
import os
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(TOP, "build")
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
from e2e_common import profiles  # noqa: E402


def bcd(v):
    return "%x.%x" % (v >> 8, v & 0xFF)


def main():
    # the DFU 1.1 devices of tests/quirks/dfu-core-sim.quirk, as the model describes them
    models = {name: p for name, p in profiles(BUILD).items() if p["family"] == "dfu"}
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", choices=sorted(models), default="stm32f1-dfu")
    parser.add_argument("--size", type=lambda x: int(x, 0), default=0xC000,
                        help="image size in bytes (default 48 KiB)")
    parser.add_argument("--time-scale", default="1.0",
                        help="device timing scale (1.0: as fast as the real device)")
    args = parser.parse_args()
    model = models[args.profile]
    vid, runtime_pid, dfu_pid = model["vid"], model["runtime_pid"], model["dfu_pid"]
    flash = model["flash_size"]
    old, new = 0x0100, 0x0102

    work = tempfile.mkdtemp(prefix="demo-", dir=BUILD)
    sample = os.path.join(TOP, "data", "make-sample-firmware.py")
    flash_in = os.path.join(work, "flash-in.bin")
    image = os.path.join(work, "image.bin")
    fw = os.path.join(work, "firmware.dfu")
    flash_out = os.path.join(work, "flash-out.bin")
    trace = os.path.join(work, "trace.jsonl")
    result = os.path.join(work, "result.json")
    subprocess.run(["/usr/bin/python3", sample, "--size", str(flash), "--version", hex(old),
                    "--format", "bin", "--out", flash_in, "--seed", "7"], check=True)
    subprocess.run(["/usr/bin/python3", sample, "--size", str(args.size), "--version", hex(new),
                    "--vid", hex(vid), "--pid", hex(runtime_pid), "--out", fw,
                    "--raw-out", image], check=True)

    print("Simulated device: %s, USB %04x:%04x (DFU mode %04x:%04x), firmware %s"
          % (args.profile, vid, runtime_pid, vid, dfu_pid, bcd(old)))
    print("Installing %s (%d bytes, version %s) with fwupdtool and the dfu-core plugin...\n"
          % (os.path.relpath(fw, TOP), args.size, bcd(new)))
    sys.stdout.flush()
    cmd = [os.path.join(BUILD, "tests", "usbsim", "usbsim-run"),
           "--profile", args.profile, "--mode", "runtime",
           "--bcd-device", hex(old), "--flash-in", flash_in,
           "--flash-out", flash_out, "--trace", trace, "--time-scale", args.time_scale,
           "--", "/usr/bin/python3", os.path.join(TOP, "tests", "e2e", "fwupd_client.py"),
           "--build", BUILD, "--install", fw, "--result", result, "--show-progress"]
    env = dict(os.environ, FWUPD_TEST_STATE_DIR=os.path.join(work, "fwupd"))
    rc = subprocess.run(cmd, env=env).returncode

    with open(result, encoding="utf-8") as f:
        res = json.load(f)
    before = res.get("before") or [{}]
    after = res.get("after") or [{}]
    inst = res.get("install", {})
    with open(image, "rb") as f:
        want = f.read()
    with open(flash_out, "rb") as f:
        got = f.read()
    exact = got[: len(want)] == want
    print()
    print("Device:       %s" % (before[0].get("Name") or "?"))
    print("Version:      %s -> %s" % (before[0].get("Version"), after[0].get("Version")))
    print("Bytes:        %d written, flash %s" % (len(want),
          "matches the image byte for byte" if exact else "DOES NOT match the image"))
    print("Time:         %.1f s for the whole install (detach, write, verify, attach)"
          % inst.get("seconds", 0.0))
    if rc != 0 or not exact:
        print("Result:       FAILED (fwupdtool status %d)\n%s" % (rc, inst.get("stderr", "")))
        return 1
    print("Result:       updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
