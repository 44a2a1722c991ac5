# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the end-to-end tests share: a simulated device (tests/usbsim) served to one client
session (fwupd_client.py: Debian's fwupdtool loading our modules), and checks of what the
simulator recorded."""

import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
SAMPLE = os.path.join(TOP, "data", "make-sample-firmware.py")

TIME_SCALE = "0.05"
VERSION_OLD = 0x0100
VERSION_NEW = 0x0102


class Failure(Exception):
    pass


_PROFILES = {}


def profiles(build, harness="usbsim-run"):
    """The devices a harness of tests/usbsim simulates, by profile name: its
    `--list-profiles --json`, so the models stay the one source of their IDs, flash sizes and
    maps. usbsim-run's family is dfu, dfuse or cobs; usbsim-nrf-run's front is usb or uart."""
    key = (os.path.abspath(build), harness)
    if key not in _PROFILES:
        proc = subprocess.run([os.path.join(key[0], "tests", "usbsim", harness),
                               "--list-profiles", "--json"],
                              check=True, capture_output=True, text=True)
        _PROFILES[key] = {p["name"]: p for p in json.loads(proc.stdout)}
    return _PROFILES[key]


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def cases_of(namespace):
    """The cases a script defines as functions case_NAME (globals()), by NAME with - for _."""
    return {name[len("case_"):].replace("_", "-"): fn for name, fn in namespace.items()
            if name.startswith("case_")}


def check_install_failed(install, needles):
    """The install (the client's result of it) failed, and its error names every needle."""
    check(install.get("rc") not in (None, 0), "install succeeded but should have failed")
    err = install.get("stderr", "")
    for needle in needles:
        check(needle.lower() in err.lower(), "error does not mention %r:\n%s" % (needle, err))


def run_case_cli(cases, call=lambda case, args: case(args.build), add_arguments=None,
                 fronts=None, needs_root=False):
    """The command line of every test script, `--build BUILD [OPTIONS] CASE`: runs one case
    (call(cases[CASE], args)) and prints PASS CASE, or FAIL CASE: why; returns the exit
    status. `--list` prints the cases instead, one a line, which tests/e2e/meson.build declares
    a test each for; with fronts (a function of the case name giving the fronts it runs on),
    FRONT:CASE for each front. With needs_root, a run without root is skipped (77)."""
    if sys.argv[1:] == ["--list"]:
        for name in cases:
            for front in fronts(name) if fronts else [None]:
                print(name if front is None else front + ":" + name)
        return 0
    if needs_root and os.geteuid() != 0:
        print("SKIP: fwupdtool needs root")
        return 77
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    if add_arguments is not None:
        add_arguments(parser)
    parser.add_argument("case", choices=sorted(cases))
    args = parser.parse_args()
    try:
        call(cases[args.case], args)
    except Failure as exc:
        print("FAIL %s: %s" % (args.case, exc))
        return 1
    print("PASS %s" % args.case)
    return 0


class Run:
    """One simulated device, one client session."""

    def __init__(self, build, name, profile="stm32f1-dfu", mode="runtime", extra=None,
                 image_size=0xC000, file_format="dfu", file_vid=None, file_pid=None,
                 quirks=None, plugin="dfu_core", time_scale=None):
        self.build = os.path.abspath(build)
        self.dir = os.path.join(self.build, "e2e", name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.profile = profile
        self.ids = profiles(self.build)[profile]
        self.mode = mode
        self.plugin = plugin
        self.time_scale = time_scale or TIME_SCALE
        self.extra = extra or []
        # quirk text only this run loads, beside tests/quirks
        self.quirk_file = None
        if quirks:
            self.quirk_file = os.path.join(self.dir, "extra.quirk")
            with open(self.quirk_file, "w", encoding="utf-8") as f:
                f.write(quirks)
        # the device starts with an old image, so the version shows the update happened
        self.flash_in = os.path.join(self.dir, "flash-in.bin")
        self.sample(self.ids["flash_size"], VERSION_OLD, "bin", self.flash_in, seed=7)
        self.image = os.path.join(self.dir, "image.bin")
        self.file = os.path.join(self.dir, "firmware." + file_format)
        self.sample(image_size, VERSION_NEW, file_format, self.file, raw_out=self.image,
                    vid=self.ids["vid"] if file_vid is None else file_vid,
                    pid=self.ids["runtime_pid"] if file_pid is None else file_pid)
        self.flash_out = os.path.join(self.dir, "flash-out.bin")
        self.trace = os.path.join(self.dir, "trace.jsonl")
        self.result_path = os.path.join(self.dir, "result.json")
        self.result = {}
        self.rc = None
        self.summary = {}
        self.records = []

    @staticmethod
    def sample(size, version, fmt, out, raw_out=None, vid=0xFFFF, pid=0xFFFF, seed=None):
        cmd = ["/usr/bin/python3", SAMPLE, "--size", str(size), "--version", hex(version),
               "--format", fmt, "--out", out, "--vid", hex(vid), "--pid", hex(pid)]
        if raw_out:
            cmd += ["--raw-out", raw_out]
        if seed is not None:
            cmd += ["--seed", str(seed)]
        subprocess.run(cmd, check=True)

    def usbsim_cmd(self):
        cmd = [os.path.join(self.build, "tests", "usbsim", "usbsim-run"),
               "--profile", self.profile]
        # a COBS bootloader has no DFU mode
        if self.ids["family"] != "cobs":
            cmd += ["--mode", self.mode]
        # the DFU 1.1 devices run the old image's version; DfuSe and COBS have their own
        if self.ids["family"] == "dfu":
            cmd += ["--bcd-device", hex(VERSION_OLD)]
        return cmd + [
            "--flash-in", self.flash_in, "--flash-out", self.flash_out,
            "--trace", self.trace, "--time-scale", self.time_scale, "--timeout", "150",
        ] + self.extra

    def run(self, install=True, dump=None, retry=False, all_plugins=False):
        cmd = self.usbsim_cmd() + ["--", "/usr/bin/python3", os.path.join(HERE, "fwupd_client.py"),
                                   "--build", self.build, "--result", self.result_path,
                                   "--plugin", self.plugin]
        if install:
            cmd += ["--install", self.file]
        if dump:
            cmd += ["--dump", dump]
        if retry:
            cmd += ["--retry"]
        if all_plugins:
            cmd += ["--all-plugins"]
        env = dict(os.environ, FWUPD_TEST_STATE_DIR=os.path.join(self.dir, "fwupd"))
        if self.quirk_file:
            env["FWUPD_TEST_EXTRA_QUIRKS"] = self.quirk_file
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        self.rc = proc.returncode
        self.harness_stderr = proc.stderr
        check(self.rc != 124, "the client hung and the harness killed it")
        if os.path.exists(self.result_path):
            with open(self.result_path, encoding="utf-8") as f:
                self.result = json.load(f)
        if os.path.exists(self.trace):
            with open(self.trace, encoding="utf-8") as f:
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    rec = json.loads(line)
                    if rec.get("summary"):
                        self.summary = rec
                    else:
                        self.records.append(rec)
        check(self.result.get("before"), "fwupdtool showed no %s device:\n%s\n%s" %
              (self.plugin, self.result.get("before_stderr", ""), proc.stderr[-3000:]))
        return self

    def install_stderr(self):
        return self.result.get("install", {}).get("stderr", "")

    def flash(self):
        with open(self.flash_out, "rb") as f:
            return f.read()

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def check_flashed(self):
        inst = self.result.get("install", {})
        check(inst.get("rc") == 0, "install failed (rc %s):\n%s" % (inst.get("rc"),
                                                                    self.install_stderr()))
        image = self.read(self.image)
        flash = self.flash()
        check(flash[: len(image)] == image, "flash does not hold the image byte-exact")
        check(flash[len(image):] == b"\xff" * (len(flash) - len(image)) or
              flash[len(image):] == self.read(self.flash_in)[len(image):],
              "flash beyond the image was changed")

    def check_failed(self, *needles):
        check_install_failed(self.result.get("install", {}), needles)

    def check_writes_inside_image(self):
        """Where the image starts at the flash's offset 0 (DFU 1.1, COBS): no write past it."""
        size = len(self.read(self.image))
        for w in self.events("write"):
            check(w["address"] + w["length"] <= size, "write at 0x%x+%d is outside the %d-byte "
                  "image" % (w["address"], w["length"], size))

    def check_untouched(self):
        check(self.flash() == self.read(self.flash_in), "flash was written")

    def requests(self, name):
        return [r for r in self.records if r.get("request") == name]

    def events(self, name):
        return [r for r in self.records if r.get("event") == name]

    # what fwupdtool prints from dfu_core's generic post-update message, after an update
    # whose version was not read back
    DFU_NOT_READ_BACK = "so the version it now runs was not read back"

    def said_not_read_back(self):
        return self.DFU_NOT_READ_BACK in self.result.get("install", {}).get("stdout", "")

    def check_not_read_back(self):
        out = self.result.get("install", {}).get("stdout", "")
        check(self.said_not_read_back(), "fwupdtool does not say the version was not read "
              "back:\n%s\n%s" % (out, self.install_stderr()[-3000:]))


def bcd(v):
    return "%x.%x" % (v >> 8, v & 0xFF)


def dfuse_file(targets, vid, pid, out):
    """A DfuSe file as UM0391 defines it (the prefix size excludes the suffix).
    targets: [(alt, name, [(address, bytes), ...]), ...]"""
    import binascii
    import struct

    body = b""
    for alt, name, elements in targets:
        elems = b"".join(struct.pack("<II", addr, len(data)) + data for addr, data in elements)
        body += (b"Target" + struct.pack("<BI", alt, 1) + name.encode().ljust(255, b"\0") +
                 struct.pack("<II", len(elems), len(elements)) + elems)
    prefix = b"DfuSe" + struct.pack("<BIB", 1, 11 + len(body), len(targets))
    payload = prefix + body
    suffix = struct.pack("<HHHH3sB", 0xFFFF, pid, vid, 0x011A, b"UFD", 16)
    crc = binascii.crc32(payload + suffix) ^ 0xFFFFFFFF
    with open(out, "wb") as f:
        f.write(payload + suffix + struct.pack("<I", crc))


def filler(size, seed):
    """Deterministic bytes that never repeat within an image."""
    state = seed or 1
    out = bytearray(size)
    for i in range(size):
        state ^= (state << 13) & 0xFFFFFFFF
        state ^= state >> 17
        state ^= (state << 5) & 0xFFFFFFFF
        out[i] = state & 0xFF
    return bytes(out)
