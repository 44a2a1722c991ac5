#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""End-to-end tests of the dfu-core plugin on STM32 DfuSe devices: Debian's fwupdtool, loading
our module from the build tree, updates the simulated STM32F4 system bootloader, GD32VF103
and an STM32F1-class custom DfuSe bootloader (tests/usbsim).

  test_dfuse.py --build BUILD CASE

Every case checks the simulator's record of erases and writes: nothing outside the image's
own writable sectors is ever erased or written.
"""

import os
import struct
import subprocess
import sys

from e2e_common import (HERE, SAMPLE, VERSION_NEW, Run, bcd, cases_of, check, dfuse_file,
                        filler, run_case_cli)

LIBUSB_ERROR_PIPE = -9

FLASH = 0x08000000
# STM32F4 sectors: 4 x 16 KiB, 1 x 64 KiB, 7 x 128 KiB
F4_SECTORS = [(FLASH + off, size) for off, size in
              [(0x0, 0x4000), (0x4000, 0x4000), (0x8000, 0x4000), (0xC000, 0x4000),
               (0x10000, 0x10000)] + [(0x20000 * i, 0x20000) for i in range(1, 8)]]


def app_image(size, seed):
    """An application image with its version where the simulated application reads it."""
    img = bytearray(filler(size, seed))
    img[0x100:0x102] = struct.pack("<H", VERSION_NEW)
    return bytes(img)


def sectors_touched(sectors, elements):
    out = set()
    for addr, data in elements:
        for start, size in sectors:
            if start < addr + len(data) and addr < start + size:
                out.add((start, size))
    return out


def check_flash_holds(run, elements, base=FLASH):
    flash = run.flash()
    for addr, data in elements:
        off = addr - base
        check(flash[off:off + len(data)] == data,
              "flash at 0x%08x does not hold the element byte-exact" % addr)


def check_only_touched_erased(run, sectors, elements, alt=0):
    erases = [(e["address"], e["size"]) for e in run.events("erase")
              if e.get("alt", 0) == alt and e.get("status", 0) == 0]
    touched = sectors_touched(sectors, elements)
    check(set(erases) == touched,
          "erased %s, the image touches %s" % (sorted(map(hex_pair, erases)),
                                               sorted(map(hex_pair, touched))))
    check(len(erases) == len(set(erases)), "a sector was erased twice: %r" % erases)


def check_writes_inside(run, elements, alt=0):
    for w in run.events("write"):
        if w.get("alt", 0) != alt:
            continue
        inside = any(addr <= w["address"] and w["address"] + w["length"] <= addr + len(data)
                     for addr, data in elements)
        check(inside, "write at 0x%08x+%d is outside the image" % (w["address"], w["length"]))
        check(w.get("erased", True), "write at 0x%08x over unerased flash" % w["address"])


def hex_pair(p):
    return "0x%08x+0x%x" % p


def check_nothing_written(run):
    check(not run.events("erase"), "erased %r" % run.events("erase"))
    check(not run.events("write"), "wrote %r" % run.events("write"))


def case_stm32f4_multi_target(build):
    # two discontiguous elements in the internal flash and the option bytes, as dfu-util's
    # own dfuse-pack writes them (its prefix size counts the suffix)
    run = Run(build, "stm32f4-multi-target", profile="stm32f4-dfuse", mode="dfu")
    e0 = (FLASH, app_image(0x5000, 3))
    e1 = (FLASH + 0x20000 + 0x100, filler(3000, 5))
    opt = (0x1FFFC000, bytes([0xAA, 0x55, 0xFF, 0x00] * 4))
    files = []
    for i, (addr, data) in enumerate([e0, e1, opt]):
        path = os.path.join(run.dir, "e%d.bin" % i)
        with open(path, "wb") as f:
            f.write(data)
        files.append(path)
    run.file = os.path.join(run.dir, "firmware.dfu")
    subprocess.run(["dfuse-pack", "-b", "0x%08x:%s" % (e0[0], files[0]),
                    "-b", "0x%08x:%s" % (e1[0], files[1]),
                    "-b", "0x%08x@1:%s" % (opt[0], files[2]),
                    "-D", "0x0483:0xdf11", run.file], check=True, capture_output=True)
    run.run()
    inst = run.result.get("install", {})
    check(inst.get("rc") == 0, "install failed:\n%s" % run.install_stderr())
    check_flash_holds(run, [e0, e1])
    check_only_touched_erased(run, F4_SECTORS, [e0, e1])
    check_writes_inside(run, [e0, e1])
    opt_writes = [w for w in run.events("write") if w.get("alt") == 1]
    check(opt_writes and opt_writes[0]["address"] == opt[0], "option bytes not written: %r"
          % opt_writes)
    # while writing: one set-address per contiguous run, and one more before a short last
    # block (devices disagree on how they place it); not one per block as dfu-util does
    first_upload = min((r["t_ms"] for r in run.requests("upload") if r["wValue"] >= 2),
                       default=float("inf"))
    set_addresses = [e for e in run.events("set-address") if e["t_ms"] < first_upload]
    check(len(set_addresses) <= 2 * 3, "set-address sent %d times while writing 3 runs" %
          len(set_addresses))
    check(run.summary.get("writes_not_erased", 0) <= len(opt_writes),
          "writes over unerased flash: %r" % run.summary)


def case_stm32f4_um0391_file(build):
    run = Run(build, "stm32f4-um0391", profile="stm32f4-dfuse", mode="dfu")
    e0 = (FLASH + 0x4000, app_image(0x2345, 9))
    run.file = os.path.join(run.dir, "firmware.dfu")
    dfuse_file([(0, "Internal Flash", [e0])], 0x0483, 0xDF11, run.file)
    run.run()
    check(run.result["install"]["rc"] == 0, "install failed:\n%s" % run.install_stderr())
    check_flash_holds(run, [e0])
    check_only_touched_erased(run, F4_SECTORS, [e0])
    check_writes_inside(run, [e0])


def case_stm32f4_raw_dfu(build):
    # a plain .dfu image goes to the first writable sector of the internal flash
    run = Run(build, "stm32f4-raw-dfu", profile="stm32f4-dfuse", mode="dfu",
              image_size=0x6000, file_vid=0x0483, file_pid=0xDF11).run()
    check(run.result["install"]["rc"] == 0, "install failed:\n%s" % run.install_stderr())
    image = run.read(run.image)
    check_flash_holds(run, [(FLASH, image)])
    check_only_touched_erased(run, F4_SECTORS, [(FLASH, image)])


def ihex_run(build, name, base):
    """The STM32F4 bootloader given 12 KiB of Intel HEX at that address."""
    run = Run(build, name, profile="stm32f4-dfuse", mode="dfu")
    run.file = os.path.join(run.dir, "firmware.hex")
    subprocess.run(["/usr/bin/python3", SAMPLE, "--size", "0x3000", "--format", "hex",
                    "--base", hex(base), "--out", run.file, "--raw-out", run.image],
                   check=True)
    return run.run()


def case_stm32f4_ihex(build):
    # Intel HEX carries its own address: 0x08008000, the third 16 KiB sector
    run = ihex_run(build, "stm32f4-ihex", FLASH + 0x8000)
    check(run.result["install"]["rc"] == 0, "install failed:\n%s" % run.install_stderr())
    image = run.read(run.image)
    check_flash_holds(run, [(FLASH + 0x8000, image)])
    check_only_touched_erased(run, F4_SECTORS, [(FLASH + 0x8000, image)])


def case_stm32f4_ihex_at_zero(build):
    # an Intel HEX file for address 0x0, where this layout has no memory: refused, not moved
    # to the first writable sector (0 is an address, not "none given")
    run = ihex_run(build, "stm32f4-ihex-at-zero", 0)
    run.check_failed("0x00000000", "writable memory")
    check_nothing_written(run)


def case_stm32f4_outside_writable(build):
    # an element in the system memory (not in any layout) and one overlapping the end of
    # the flash: refused before anything is erased
    run = Run(build, "stm32f4-outside", profile="stm32f4-dfuse", mode="dfu")
    run.file = os.path.join(run.dir, "firmware.dfu")
    dfuse_file([(0, "Internal Flash", [(FLASH, filler(1024, 1)),
                                       (FLASH + 0x100000 - 512, filler(1024, 2))])],
               0x0483, 0xDF11, run.file)
    run.run()
    run.check_failed("writable")
    check_nothing_written(run)


def case_stm32f4_unsorted_elements(build):
    # a file may list its elements in any order: the lower one, given last, is written all
    # the same, each sector erased once
    run = Run(build, "stm32f4-unsorted-elements", profile="stm32f4-dfuse", mode="dfu")
    e_high = (FLASH + 0x20000 + 0x100, filler(3000, 5))
    e_mid = (FLASH + 0x4000, filler(0x800, 7))
    e_low = (FLASH, app_image(0x4000, 3))
    run.file = os.path.join(run.dir, "firmware.dfu")
    dfuse_file([(0, "Internal Flash", [e_high, e_mid, e_low])], 0x0483, 0xDF11, run.file)
    run.run()
    check(run.result["install"]["rc"] == 0, "install failed:\n%s" % run.install_stderr())
    check_flash_holds(run, [e_high, e_mid, e_low])
    check_only_touched_erased(run, F4_SECTORS, [e_high, e_mid, e_low])
    check_writes_inside(run, [e_high, e_mid, e_low])


# the most elements a DfuSe file may hold (FU_DFU_CORE_FIRMWARE_DFUSE_ELEMENTS_MAX)
ELEMENTS_MAX = 10000


def many_elements_file(run, count):
    """count one-byte elements in reverse address order, the last on top of another."""
    elements = [(FLASH + 4 * (count - 1 - i), b"\x5a") for i in range(count)]
    elements[-1] = (FLASH + 4, b"\xa5")
    run.file = os.path.join(run.dir, "firmware.dfu")
    dfuse_file([(0, "Internal Flash", elements)], 0x0483, 0xDF11, run.file)


def case_stm32f4_many_elements_overlap(build):
    # as many elements as a file may hold (a 90 KB file) in reverse address order, the last on
    # top of another: the overlap is found and named before anything is sent
    run = Run(build, "stm32f4-many-elements", profile="stm32f4-dfuse", mode="dfu")
    many_elements_file(run, ELEMENTS_MAX)
    run.run()
    run.check_failed("elements at 0x08000004", "overlap at 0x08000004", "malformed")
    check_nothing_written(run)


def case_stm32f4_elements_over_bound(build):
    # one element more: refused for its count, before fwupd's parser allocates them
    run = Run(build, "stm32f4-elements-over-bound", profile="stm32f4-dfuse", mode="dfu")
    many_elements_file(run, ELEMENTS_MAX + 1)
    run.run()
    run.check_failed("10001 or more elements", "more than the 10000")
    check_nothing_written(run)
    check(not run.requests("dnload"), "DNLOAD sent: %r" % run.requests("dnload")[:3])


def case_stm32f4_wrong_target(build):
    run = Run(build, "stm32f4-wrong-target", profile="stm32f4-dfuse", mode="dfu")
    run.file = os.path.join(run.dir, "firmware.dfu")
    dfuse_file([(7, "Nonexistent", [(FLASH, filler(1024, 1))])], 0x0483, 0xDF11, run.file)
    run.run()
    run.check_failed("target 7", "matches no memory")
    check_nothing_written(run)


def case_stm32f4_leave_to_application(build):
    # the system bootloader leaves into an application that is no DFU device: the shipped
    # quirk's will-disappear ends the update done, saying the version was not read back
    run = misbehaving_f4(build, "stm32f4-leave-to-application", [])
    check(run.events("leave"), "the device was not told to leave DFU mode")
    check(run.summary.get("final_mode") == "runtime", "the application did not start: %r"
          % run.summary.get("final_mode"))
    run.check_not_read_back()
    check(run.result["after"] == [], "fwupd shows %r after the leave" % run.result["after"])
    # no quirk names it: the name is the ROM's USB product string "STM32  BOOTLOADER",
    # whose double space fwupd makes single
    check(run.result["before"][0]["Name"] == "STM32 BOOTLOADER", "listed as %r before" %
          run.result["before"][0]["Name"])


def case_stm32f4_leave_without_will_disappear(build):
    # the same bootloader named by a quirk that takes will-disappear away: nothing of the
    # plugin's comes back after the leave, so the plugin ends fwupd's wait itself, done
    run = misbehaving_f4(build, "stm32f4-leave-without-will-disappear", [],
                         quirks="[USB\\VID_0483&PID_DF11]\nFlags = ~will-disappear\n")
    check("will-disappear" not in run.result["before"][0]["Flags"],
          "the quirk left will-disappear: %r" % run.result["before"][0]["Flags"])
    check(run.events("leave"), "the device was not told to leave DFU mode")
    check(run.summary.get("final_mode") == "runtime", "the application did not start: %r"
          % run.summary.get("final_mode"))
    run.check_not_read_back()
    check(run.result["after"] == [], "fwupd shows %r after the leave" % run.result["after"])


def case_stm32f4_no_product_string(build):
    # a bootloader with no product string that no quirk names still has a name
    run = misbehaving_f4(build, "stm32f4-no-product-string", ["--no-product-string"])
    check(run.result["before"][0]["Name"] == "DfuSe device", "listed as %r before" %
          run.result["before"][0]["Name"])
    run.check_not_read_back()
    check(run.result["after"] == [], "fwupd shows %r after the leave" % run.result["after"])


def case_stm32f4_dump(build):
    run = Run(build, "stm32f4-dump", profile="stm32f4-dfuse", mode="dfu")
    dump = os.path.join(run.dir, "dump.bin")
    run.run(install=False, dump=dump)
    check(run.result.get("dump", {}).get("rc") == 0, "dump failed:\n%s" %
          run.result.get("dump", {}).get("stderr"))
    check(run.read(dump) == run.read(run.flash_in), "dump differs from the flash")


def misbehaving_f4(build, name, option, quirks=None, expect_ok=True, needles=(), mass=False):
    run = Run(build, name, profile="stm32f4-dfuse", mode="dfu", image_size=0x5000,
              file_vid=0x0483, file_pid=0xDF11, extra=option, quirks=quirks).run()
    image = run.read(run.image)
    if expect_ok:
        check(run.result["install"]["rc"] == 0, "install failed:\n%s" % run.install_stderr())
        check_flash_holds(run, [(FLASH, image)])
        if mass:
            check([e["mass"] for e in run.events("erase")] == [True],
                  "expected one mass erase: %r" % run.events("erase"))
        else:
            check_only_touched_erased(run, F4_SECTORS, [(FLASH, image)])
    else:
        run.check_failed(*needles)
    return run


def case_stm32f4_bogus_set_address(build):
    misbehaving_f4(build, "stm32f4-bogus-set-address", ["--bogus-set-address-timeout"])


def case_stm32f4_zero_poll_timeout(build):
    misbehaving_f4(build, "stm32f4-zero-poll", ["--zero-poll-timeout"])


def case_stm32f4_short_mass_erase_timeout(build):
    # the device says 100 ms for a mass erase that takes seconds: polled until done
    misbehaving_f4(build, "stm32f4-short-mass-erase", ["--short-mass-erase-timeout"],
                   quirks="[USB\\VID_0483&PID_DF11]\nFlags = dfuse-mass-erase\n", mass=True)


# STM32L4: 2 KiB pages, an erase of up to 24.47 ms reported as 10 ms, and a GETSTATUS that
# arrives before the erase is done stalls. Real time (scale 1): at the scale of the other
# cases the erase would be over before any poll could arrive.
L4_PAGES = [(FLASH + i * 0x800, 0x800) for i in range(512)]


def stm32l4(build, name, quirks):
    return Run(build, name, profile="stm32l4-dfuse", mode="dfu", image_size=0x1800,
               file_vid=0x0483, file_pid=0xDF11, extra=["--stall-early-poll-during-erase"],
               quirks=quirks, time_scale="1").run()


def case_stm32l4_stall_early_poll(build):
    # the quirk: never polled before its longest erase, so the device never stalls a poll
    run = stm32l4(build, "stm32l4-stall-early-poll",
                  "[USB\\VID_0483&PID_DF11]\nDfuCoreMinPollInterval = 25\n")
    check(run.result["install"]["rc"] == 0, "install failed:\n%s" % run.install_stderr())
    image = run.read(run.image)
    check_flash_holds(run, [(FLASH, image)])
    check_only_touched_erased(run, L4_PAGES, [(FLASH, image)])
    stalls = [r for r in run.requests("getstatus") if r.get("outcome") == "stall"]
    check(not stalls, "%d status reads stalled: %r" % (len(stalls), stalls[:2]))


def case_stm32l4_without_quirk(build):
    # without it the plugin polls as the device asks, is stalled, and waits again: the update
    # still completes, at the cost of the stalls the quirk avoids
    run = stm32l4(build, "stm32l4-without-quirk", None)
    check(run.result["install"]["rc"] == 0, "install failed:\n%s" % run.install_stderr())
    check_flash_holds(run, [(FLASH, run.read(run.image))])
    stalls = [r for r in run.requests("getstatus") if r.get("outcome") == "stall"]
    check(stalls, "no status read stalled: the model did not stall an early poll")


def case_stm32f4_stuck_busy(build):
    run = misbehaving_f4(build, "stm32f4-stuck-busy", ["--stuck-busy", "3"], expect_ok=False,
                         needles=("busy",))
    check(not [w for w in run.events("write") if not w.get("erased", True)],
          "wrote over unerased flash")


def case_stm32f4_read_protected(build):
    run = misbehaving_f4(build, "stm32f4-read-protected", ["--read-protected"],
                         expect_ok=False, needles=("read-protected",))
    check(not run.events("read-unprotect"), "read protection removed without being asked")


def case_stm32c5_functional_request_stalls(build):
    # a ROM that never answers a standalone GET_DESCRIPTOR for the functional descriptor
    # (STM32C5, betaflight-configurator PR 5300): the model stalls it, as a libusb client
    # that asks sees; the plugin reads the descriptor from the configuration and never asks
    option = ["--stall-functional-descriptor-request"]
    for extra, expect in (([], "9 09210b"), (option, "%d " % LIBUSB_ERROR_PIPE)):
        run = Run(build, "stm32c5-get-descriptor", profile="stm32f4-dfuse", mode="dfu",
                  extra=extra)
        proc = subprocess.run(run.usbsim_cmd() + [
            "--", "/usr/bin/python3", os.path.join(HERE, "usb_get_descriptor.py"),
            "0x0483", "0xdf11", "0x21", "9"], capture_output=True, text=True, timeout=60)
        check(proc.stdout.startswith(expect), "GET_DESCRIPTOR 0x21 with %r: %r, expected %r"
              % (extra, proc.stdout, expect))
    run = misbehaving_f4(build, "stm32c5-functional-request-stalls", option)
    asked = [r for r in run.requests("get_descriptor") if r["wValue"] >> 8 == 0x21]
    check(not asked, "the functional descriptor was asked for: %r" % asked)
    sizes = {r["wLength"] for r in run.requests("dnload") if r["wValue"] >= 2 and r["wLength"]}
    check(sizes == {2048}, "DNLOAD block sizes %r, expected the descriptor's 2048" % sizes)


def case_gd32vf103(build):
    # the bootloader reports 2 KiB pages; its real 1 KiB pages come from the serial number,
    # and it does not answer after leave
    run = Run(build, "gd32vf103", profile="gd32vf103-dfuse", mode="dfu", image_size=0x2C00,
              file_vid=0x28E9, file_pid=0x0189).run()
    check(run.result["install"]["rc"] == 0, "install failed:\n%s" % run.install_stderr())
    image = run.read(run.image)
    check_flash_holds(run, [(FLASH, image)])
    pages = [(FLASH + i * 0x400, 0x400) for i in range(128)]
    check_only_touched_erased(run, pages, [(FLASH, image)])
    check(run.events("leave"), "the device was not told to leave DFU mode")
    run.check_not_read_back()
    check(run.result["before"][0]["Name"], "listed without a name before: %r" %
          run.result["before"][0])


def case_stm32f1_runtime(build):
    # runtime -> DfuSe DFU mode -> application, its new version read back; the first 16 KiB
    # hold the bootloader (read-only) and are never touched
    run = Run(build, "stm32f1-dfuse-runtime", profile="stm32f1-dfuse", mode="runtime",
              image_size=0x3000, file_vid=0x1209, file_pid=0x0015).run()
    check(run.result["install"]["rc"] == 0, "install failed:\n%s" % run.install_stderr())
    image = run.read(run.image)
    check_flash_holds(run, [(FLASH + 0x4000, image)])
    pages = [(FLASH + i * 0x400, 0x400) for i in range(128)]
    check_only_touched_erased(run, pages, [(FLASH + 0x4000, image)])
    check(run.result["after"][0]["Version"] == bcd(VERSION_NEW), "new version not read back: %r"
          % run.result["after"])


if __name__ == "__main__":
    sys.exit(run_case_cli(cases_of(globals())))
