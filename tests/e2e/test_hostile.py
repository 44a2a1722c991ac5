#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""End-to-end tests of the dfu-core plugin against simulated devices that lie: a transfer
size at the 16-bit maximum or of 1 byte, status replies of the wrong length or with impossible
values, uploads that return other bytes or fewer than were written; DfuSe devices whose poll
timeout is the 24-bit maximum (4.6 h), alternates between 0 and that, or is random, and whose
memory layout overlaps itself, runs past 4 GiB or claims more readable memory than a dump
reads.

  test_hostile.py --build BUILD CASE

Each must end, within the harness's bound, updated byte-exact or in a clear error, with no
write outside the image; none asserts on elapsed time. Devices that stay busy forever are
covered by test_dfuse.py (stm32f4-stuck-busy). A control transfer cannot return more bytes
than its wLength (the host's buffer is that long), so "more than asked" is not simulated.

Hostile files too: an nrfutil package with an empty manifest.json, parsed by fwupdtool
firmware-parse and installed as a cabinet against the simulated nRF52840 Dongle, fails with
an error that says so.
"""

import hashlib
import os
import subprocess
import sys
import zipfile

import test_nordic
from e2e_common import Run, cases_of, check, run_case_cli

DFUSE_FLASH = 0x08000000


def check_bounded(run):
    check(run.rc != 124, "the harness had to kill the client")
    check(run.summary, "the simulator wrote no summary")


def case_transfer_size_max(build):
    # wTransferSize 65535, more than a Linux control transfer carries: the plugin caps its
    # blocks at 4096 bytes and the update completes
    run = Run(build, "hostile-transfer-size-max", mode="dfu",
              extra=["--transfer-size", "65535"]).run()
    check_bounded(run)
    run.check_flashed()
    sizes = {r["wLength"] for r in run.requests("dnload") if r["wLength"] > 0}
    check(max(sizes) <= 4096, "DNLOAD blocks of %r bytes" % sorted(sizes))
    run.check_writes_inside_image()


def case_dfuse_transfer_size_max(build):
    run = Run(build, "hostile-dfuse-transfer-size-max", profile="stm32f4-dfuse", mode="dfu",
              extra=["--transfer-size", "65535"], file_pid=0xDF11).run()
    check_dfuse_updated(run)


def case_transfer_size_tiny(build):
    # wTransferSize 1, below the 8 bytes of any control endpoint: refused before the first
    # block with the figure named, the flash untouched
    run = Run(build, "hostile-transfer-size-tiny", mode="dfu",
              extra=["--transfer-size", "1"]).run()
    check_bounded(run)
    run.check_failed("transfer size of 1 bytes", "8 bytes")
    run.check_untouched()
    check(not run.requests("dnload"), "DNLOAD sent with a 1-byte transfer size")


def case_download_not_supported(build):
    # a functional descriptor without bitCanDnload: the device says it takes no download, so
    # the update is refused before anything is sent, saying so, the flash untouched
    run = Run(build, "hostile-download-not-supported", mode="dfu",
              extra=["--can-download", "no"]).run()
    check_bounded(run)
    run.check_failed("does not support writing firmware", "bmAttributes 0x06")
    run.check_untouched()
    check(not run.requests("dnload"), "DNLOAD sent to a device that takes no download")


def reply_lie_caught(name, fault, needle):
    """A case of a reply that lies (usbsim-run --fault fault): the update fails naming it
    (needle), with no write outside the image."""
    def run_case(build):
        run = Run(build, name, extra=["--fault", fault]).run()
        check_bounded(run)
        run.check_failed(needle)
        run.check_writes_inside_image()
    return run_case


REPLY_LIES = {
    "short-status": reply_lie_caught("hostile-short-status", "short:getstatus:3",
                                     "3-byte status reply instead of 6"),
    "corrupt-status": reply_lie_caught("hostile-corrupt-status", "corrupt:getstatus:3",
                                       "invalid status"),
    # the read-back lies: verification must catch it and say where
    "corrupt-upload": reply_lie_caught("hostile-corrupt-upload", "corrupt:upload:2",
                                       "verification failed at 0x"),
    # the read-back stops early: fewer bytes than were written is not a verified image
    "short-upload": reply_lie_caught("hostile-short-upload", "short:upload:2",
                                     "did not keep the whole image"),
}


def case_poll_timeout_max(build):
    # a DFU 1.1 device whose every status says 4.6 h: it has no layout to bound a block by, so
    # the plugin's own bound applies (DfuCoreBusyTimeout 1000 ms here): each block waits at
    # most that, and the update completes within the harness's bound (without the cap on a
    # wait, 60 s a block outlast it)
    run = Run(build, "hostile-poll-timeout-max", extra=["--hostile-poll-timeout", "max"],
              image_size=0x2000,
              quirks="[USB\\VID_1209&PID_0011]\nDfuCoreBusyTimeout = 1000\n").run()
    check_bounded(run)
    run.check_flashed()
    run.check_writes_inside_image()
    polls = {r["poll_timeout_ms"] for r in run.requests("getstatus") if "poll_timeout_ms" in r}
    check(polls == {0xFFFFFF}, "the device reported %r" % sorted(polls))


# DfuSe devices that lie about time or memory (usbsim-run --hostile-poll-timeout,
# --flash-layout): the STM32F4 system bootloader model with a 4 KiB image in its first sector
POLL_TIMEOUT_FIELD_MAX = 0xFFFFFF


def dfuse_run(build, name, extra, install=True, dump=None):
    return Run(build, name, profile="stm32f4-dfuse", mode="dfu", image_size=0x1000,
               file_vid=0x0483, file_pid=0xDF11, extra=extra).run(install=install, dump=dump)


def check_dfuse_writes_inside_image(run):
    size = len(run.read(run.image))
    for w in run.events("write"):
        check(DFUSE_FLASH <= w["address"] and w["address"] + w["length"] <= DFUSE_FLASH + size,
              "write at 0x%08x+%d is outside the image" % (w["address"], w["length"]))


def check_dfuse_updated(run):
    check_bounded(run)
    image = run.read(run.image)
    check(run.result["install"]["rc"] == 0, "install failed:\n%s" % run.install_stderr())
    check(run.flash()[: len(image)] == image, "flash does not hold the image")
    check_dfuse_writes_inside_image(run)


def reported_poll_timeouts(run):
    return [r["poll_timeout_ms"] for r in run.requests("getstatus") if "poll_timeout_ms" in r]


def case_dfuse_poll_timeout_max(build):
    # every status says 4.6 h while the work takes milliseconds: each wait ends at the bound of
    # the operation it waits for (2 s here), not at the 60 s cap, and the update completes
    # within the harness's bound (without that, 60 s an operation outlast it)
    run = dfuse_run(build, "hostile-dfuse-poll-timeout-max", ["--hostile-poll-timeout", "max"])
    check_dfuse_updated(run)
    polls = reported_poll_timeouts(run)
    check(polls and set(polls) == {POLL_TIMEOUT_FIELD_MAX},
          "the device reported %r" % sorted(set(polls)))


def case_dfuse_poll_timeout_max_stuck(build):
    # the same figure from an erase that never ends: the error of the erase's own bound (2 s),
    # which names what the device asked for, and nothing written. The harness's bound is 30 s
    # here, half the 60 s a wait would last if only the poll timeout cap applied
    run = dfuse_run(build, "hostile-dfuse-poll-timeout-max-stuck",
                    ["--hostile-poll-timeout", "max", "--stuck-busy", "1", "--timeout", "30"])
    check_bounded(run)
    run.check_failed("erase of the sector at 0x08000000", "limit 2000 ms",
                     "it asked to wait 16777215 ms")
    check(not run.events("write"), "wrote %r" % run.events("write")[:3])


def case_dfuse_poll_timeout_alternate(build):
    # 0, then 4.6 h, then 0, ... from status to status: polled at once, then waited at most the
    # operation's bound, and the update completes
    run = dfuse_run(build, "hostile-dfuse-poll-timeout-alternate",
                    ["--hostile-poll-timeout", "alternate"])
    check_dfuse_updated(run)
    polls = reported_poll_timeouts(run)
    check(set(polls) == {0, POLL_TIMEOUT_FIELD_MAX}, "the device reported %r" %
          sorted(set(polls)))


def case_dfuse_poll_timeout_random(build):
    run = dfuse_run(build, "hostile-dfuse-poll-timeout-random",
                    ["--hostile-poll-timeout", "random"])
    check_dfuse_updated(run)
    polls = reported_poll_timeouts(run)
    check(len(set(polls)) > 1, "the device reported %r" % sorted(set(polls)))


def check_layout_refused(build, name, layout, *needles):
    """With that memory layout the device is listed, and install and dump both fail with the
    layout named, before any request that erases, writes or reads."""
    run = Run(build, name, profile="stm32f4-dfuse", mode="dfu", image_size=0x1000,
              file_vid=0x0483, file_pid=0xDF11, extra=["--flash-layout", layout])
    run.run(dump=os.path.join(run.dir, "dump.bin"))
    check_bounded(run)
    check(run.result["before"], "the device is not listed")
    run.check_failed("invalid memory layout", "nothing is erased, written or read", *needles)
    dump = run.result.get("dump", {})
    check(dump.get("rc") not in (None, 0), "the dump succeeded")
    check("invalid memory layout" in dump.get("stderr", ""), "the dump does not say why:\n%s"
          % dump.get("stderr", "")[-2000:])
    check(not run.requests("dnload"), "DNLOAD sent: %r" % run.requests("dnload")[:3])
    check(not [r for r in run.requests("upload") if r["wValue"] >= 2], "memory read")
    run.check_untouched()


def case_dfuse_layout_overlap(build):
    # the internal flash describes 0x0800c000-0x08010000 twice
    check_layout_refused(build, "hostile-dfuse-layout-overlap",
                         "@Internal Flash  /0x08000000/04*016Kg,01*064Kg/0x0800C000/04*016Kg",
                         "overlap")


def case_dfuse_layout_wrap(build):
    # 16 KiB from 0xfffff000: past 4 GiB, where a 32-bit address wraps to 0
    check_layout_refused(build, "hostile-dfuse-layout-wrap", "@Internal Flash  /0xFFFFF000/4*4Kg",
                         "past the 32-bit address space")


def case_dfuse_dump_too_large(build):
    # a layout claiming 32 MiB of readable flash, twice the dump's bound: refused before the
    # first block is read (the device has 1 MiB; without the bound the dump reads all of it
    # and fails only where the device stops)
    layout = "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,255*128Kg"
    run = Run(build, "hostile-dfuse-dump-too-large", profile="stm32f4-dfuse", mode="dfu",
              extra=["--flash-layout", layout])
    dump = os.path.join(run.dir, "dump.bin")
    run.run(install=False, dump=dump)
    check_bounded(run)
    result = run.result.get("dump", {})
    err = result.get("stderr", "")
    check(result.get("rc") not in (None, 0), "the dump succeeded")
    check("claims 33554432 readable bytes" in err and "more than the 16777216" in err,
          "the dump does not name the bound:\n%s" % err[-2000:])
    check(not [r for r in run.requests("upload") if r["wValue"] >= 2],
          "%d blocks read" % len([r for r in run.requests("upload") if r["wValue"] >= 2]))


def nrfutil_package_with(path, member, data):
    """Rewrites the nrfutil package at path with one member replaced."""
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members[member] = data
    with zipfile.ZipFile(path, "w") as zf:
        for name, contents in members.items():
            zf.writestr(name, contents)


def hostile_cabinet(r, instance_id, spoil):
    """A cabinet of r's package as make-cabinet builds it, then the package spoiled by
    spoil(path) behind make-cabinet's checks, and its checksum in the metainfo made true, as
    someone who builds a hostile cabinet would."""
    cab = os.path.join(r.dir, "firmware.cab")
    metainfo = os.path.join(r.dir, "firmware.metainfo.xml")
    proc = subprocess.run([test_nordic.MAKE_CABINET, r.package, "--out", cab, "--id",
                           "org.usbsim.nrf52.firmware", "--name", "Simulated nRF52",
                           "--instance-id", instance_id, "--release-notes", "test",
                           "--keep-metainfo", metainfo, "-q"], capture_output=True, text=True)
    check(proc.returncode == 0, "make-cabinet failed:\n" + proc.stderr)
    with open(r.package, "rb") as f:
        sha256 = hashlib.sha256(f.read()).hexdigest()
    spoil(r.package)
    with open(r.package, "rb") as f:
        spoiled = hashlib.sha256(f.read()).hexdigest()
    with open(metainfo, encoding="utf-8") as f:
        text = f.read()
    check(sha256 in text, "the metainfo holds no checksum of the package")
    with open(metainfo, "w", encoding="utf-8") as f:
        f.write(text.replace(sha256, spoiled))
    env = dict(os.environ)
    for var, sub in (("STATE_DIRECTORY", "state"), ("CACHE_DIRECTORY", "cache"),
                     ("FWUPD_LOCKDIR", "lock")):
        env[var] = os.path.join(r.dir, "build-cabinet", sub)
        os.makedirs(env[var], exist_ok=True)
    proc = subprocess.run(["fwupdtool", "build-cabinet", "--force", cab, r.package, metainfo],
                          capture_output=True, text=True, env=env)
    check(proc.returncode == 0, "fwupdtool build-cabinet failed:\n" + proc.stdout + proc.stderr)
    return cab


def case_nordic_empty_manifest(build):
    # a cabinet whose nrfutil package has a 0-byte manifest.json: fwupdtool once took a
    # parse failure without an error and crashed (SIGSEGV) on install, and firmware-parse
    # said "exec failed but no error set!"
    r = test_nordic.NrfRun(build, "hostile-empty-manifest", "usb", ["application=4096"],
                           ["--fw-version", "7"], ["--app-valid", "--app-version", "6"])
    cab = hostile_cabinet(r, "NRFDFU\\PART_52840",
                          lambda path: nrfutil_package_with(path, "manifest.json", b""))
    proc = subprocess.run([test_nordic.RUN_FWUPDTOOL, r.build, "firmware-parse", r.package,
                           "nordic-dfu", "--plugins", "nordic_dfu"],
                          env=dict(os.environ, FWUPD_TEST_STATE_DIR=os.path.join(r.dir, "parse")),
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    check(proc.returncode == 1, "firmware-parse ended with %d, not 1:\n%s" %
          (proc.returncode, out[-2000:]))
    check("manifest.json is empty" in out, "firmware-parse does not say why:\n" + out[-2000:])

    # the client: list the devices, then install as fwupdmgr does
    log = os.path.join(r.dir, "install.log")
    listing = os.path.join(r.dir, "before.json")
    script = ('"$0" "$1" get-devices --json --plugins nordic_dfu >"$4" 2>/dev/null; '
              '"$0" "$1" install "$2" --force --plugins nordic_dfu >"$3" 2>&1')
    cmd = r.harness() + ["--", "/bin/sh", "-c", script, test_nordic.RUN_FWUPDTOOL, r.build, cab,
                         log, listing]
    env = dict(os.environ, FWUPD_TEST_STATE_DIR=os.path.join(r.dir, "fwupd"))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    check(proc.returncode != 124, "the harness had to kill the client")
    with open(log, encoding="utf-8") as f:
        out = "".join(line for line in f if "\u2026: " not in line)
    with open(listing, encoding="utf-8") as f:
        check("nordic_dfu" in f.read(), "fwupdtool listed no nordic_dfu device")
    r.read_trace()
    check(proc.returncode == 1, "fwupdtool install ended with %d, not 1:\n%s" %
          (proc.returncode, out[-2000:]))
    check("manifest.json is empty" in out, "fwupdtool install does not say why:\n" + out[-2000:])
    check(not r.events("write") and not r.events("erase"), "the device was written to")


if __name__ == "__main__":
    sys.exit(run_case_cli(dict(cases_of(globals()), **REPLY_LIES)))
