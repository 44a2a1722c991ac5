#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""End-to-end tests of the dfu-core plugin: Debian's fwupdtool, loading our module from the
build tree, updates a simulated DFU 1.1 device (tests/usbsim) through the umockdev harness.

  test_dfu_core.py --build BUILD CASE

Every case checks what the simulator recorded (flash dump, trace) and what fwupdtool
reported; none asserts on elapsed time.
"""

import os
import sys
import uuid

from e2e_common import VERSION_NEW, VERSION_OLD, Run, bcd, cases_of, check, run_case_cli


def case_update_runtime(build):
    run = Run(build, "update-runtime").run()
    before = run.result["before"][0]
    check(before["Version"] == bcd(VERSION_OLD), "old version %r" % before["Version"])
    check("USB\\VID_1209&PID_0010" in before["InstanceIds"], "instance IDs %r" %
          before["InstanceIds"])
    # fwupd's GUID of an instance ID: SHA-1 name-based UUID in the DNS namespace
    guid = str(uuid.uuid5(uuid.NAMESPACE_DNS, "USB\\VID_1209&PID_0010"))
    check(guid in before["Guid"], "GUIDs %r lack %s" % (before["Guid"], guid))
    run.check_flashed()
    after = run.result["after"][0]
    check(after["Version"] == bcd(VERSION_NEW), "new version read back as %r" % after["Version"])
    # runtime -> DFU mode -> runtime
    check(run.summary.get("reenumerations", 0) >= 2, "summary %r" % run.summary)
    # the model reports 47 ms for up to 76 ms of work (tests/usbsim/README.md): a host that
    # obeys the reported poll timeout may find the device still busy, but must never poll sooner
    statuses = [r for r in run.records if r.get("request") == "getstatus"]
    for prev, cur in zip(statuses, statuses[1:]):
        waited_ms = cur["t_ms"] - prev["t_ms"]
        check(prev["state_after"] != 4 or waited_ms >= prev["poll_timeout_ms"],
              "polled %.3f ms after a reported %d ms poll timeout: %r" % (
                  waited_ms, prev["poll_timeout_ms"], cur))
    # no redundant status read: once the device says it is idle, the next request is work
    dfu = [r for r in run.records if r.get("bmRequestType") in (0x21, 0xA1)]
    for prev, cur in zip(dfu, dfu[1:]):
        check(not (prev.get("request") == "getstatus" and prev["state_after"] == 5 and
                   cur.get("request") == "getstatus"),
              "status read again after dfuDNLOAD-IDLE: %r" % cur)


def case_descriptor_after_last_alt(build):
    # DFU 1.1 section 4.2: one functional descriptor after the last of three alt settings;
    # the device's wTransferSize must be used, not a fallback
    run = Run(build, "descriptor-after-last-alt", extra=["--alts", "3"]).run()
    run.check_flashed()
    sizes = {r["wLength"] for r in run.requests("dnload") if r["wLength"] > 0}
    check(sizes == {1024}, "DNLOAD block sizes %r, expected the descriptor's 1024" % sizes)


def case_wins_over_builtin_dfu(build):
    # with every fwupd plugin loaded, fwupd's own dfu plugin also matches the DFU interface
    # class: the device named by our quirk must be ours alone, and update through us
    run = Run(build, "wins-over-builtin-dfu").run(all_plugins=True)
    owners = [d["Plugin"] for d in run.result["all_before"]
              if d["Name"] and "Simulated" in d["Name"]]
    check(owners == ["dfu_core"], "device owned by %r" % owners)
    run.check_flashed()
    check(run.result["after"][0]["Version"] == bcd(VERSION_NEW), "new version not read back")


def case_update_not_tolerant(build):
    run = Run(build, "update-not-tolerant", profile="gd32vf103-dfu",
              extra=["--manifest-tolerant", "no"], image_size=0x14000).run()
    run.check_flashed()
    check(run.result["after"][0]["Version"] == bcd(VERSION_NEW), "new version not read back")


# How a DFU 1.1 device ends the update (the model's --manifest-ending, --app-dfu): each is a
# correct update, so each ends done, with the version the device now runs where it can tell
def ending(build, name, options, mode="runtime"):
    run = Run(build, name, mode=mode, extra=["--manifest-tolerant", "no"] + options).run()
    run.check_flashed()
    check(run.summary.get("manifestations") == 1, "summary %r" % run.summary)
    check(run.summary.get("final_mode") == "runtime", "device ended in %r" %
          run.summary.get("final_mode"))
    return run


def check_new_version(run):
    check(run.result["after"] and run.result["after"][0]["Version"] == bcd(VERSION_NEW),
          "new version not read back: %r" % run.result["after"])


def case_ending_idle(build):
    # manifestation tolerant, stays in dfuIDLE: read back, then reset into the application
    run = Run(build, "ending-idle", mode="dfu").run()
    run.check_flashed()
    check(run.summary.get("bytes_uploaded", 0) >= len(run.read(run.image)),
          "the image was not read back: %r" % run.summary)
    check(run.events("usb-reset"), "the device was never reset")
    check_new_version(run)


def case_ending_idle_app_no_dfu(build):
    # the same, into an application with no DFU interface
    run = Run(build, "ending-idle-app-no-dfu", mode="dfu", extra=["--app-dfu", "no"]).run()
    run.check_flashed()
    check("not read back" in run.install_stderr(), "no word that the version was not read "
          "back:\n%s" % run.install_stderr())
    run.check_not_read_back()
    check_new_version(run)


def case_ending_wait_reset(build):
    # waits in dfuMANIFEST-WAIT-RESET: the plugin resets it
    run = ending(build, "ending-wait-reset", ["--manifest-ending", "wait-reset"])
    check(run.events("usb-reset"), "the device was never reset")
    check_new_version(run)


def case_ending_reset_other_ids(build):
    # resets by itself and comes back in runtime mode with its runtime product ID
    run = ending(build, "ending-reset-other-ids", ["--manifest-ending", "reset"])
    check_new_version(run)


def case_ending_reset_same_ids(build):
    # resets by itself and comes back in runtime mode with the IDs of its DFU mode
    run = ending(build, "ending-reset-same-ids", ["--manifest-ending", "reset",
                                                  "--runtime-pid", "0x0011"])
    check_new_version(run)


def case_ending_silent(build):
    # does not answer the GETSTATUS after the last DNLOAD (GD32VF103), then resets
    run = ending(build, "ending-silent", ["--manifest-ending", "silent"])
    check_new_version(run)


def case_ending_app_no_dfu(build):
    # resets into an application with no DFU interface: nothing can read its version back
    run = ending(build, "ending-app-no-dfu", ["--manifest-ending", "reset", "--app-dfu", "no"],
                 mode="dfu")
    err = run.install_stderr()
    check("not read back" in err and "bcdDevice" in err,
          "no word that the version was not read back:\n%s" % err)
    run.check_not_read_back()
    # what fwupd can show: the application's bcdDevice, which the model sets from its image;
    # it cannot be updated without its bootloader
    after = run.result["after"]
    check(after and after[0]["Version"] == bcd(VERSION_NEW), "version shown %r" % after)
    check("updatable" not in after[0]["Flags"], "the application is updatable: %r" % after)


# application product IDs no quirk in tests/quirks names
UNNAMED_APP_PID = "0x0030"


def check_nothing_listed(run):
    after = run.result.get("after")
    check(not after, "listed after the update although nothing of the plugin's is there: %r"
          % after)


def check_failed_in_dfu_mode(run, needle):
    # failed, never said done, and left in DFU mode where the same update can run again
    run.check_failed(needle)
    check(not run.said_not_read_back(), "a failed update was said to be done")
    check(run.summary.get("final_mode") == "dfu", "device ended in %r" %
          run.summary.get("final_mode"))
    after = run.result.get("after")
    check(after and "is-bootloader" in after[0]["Flags"] and "updatable" in after[0]["Flags"],
          "not listed in DFU mode, updatable, after the failure: %r" % after)


def case_ending_app_no_dfu_unnamed(build):
    # resets during manifestation into an application with no DFU interface whose IDs no
    # quirk names: the device said OK to the last download and manifested, so the update is
    # done, the version not read back, and nothing of the plugin's is listed after
    run = ending(build, "ending-app-no-dfu-unnamed",
                 ["--manifest-ending", "reset", "--app-dfu", "no",
                  "--runtime-pid", UNNAMED_APP_PID], mode="dfu")
    run.check_not_read_back()
    check_nothing_listed(run)


def case_ending_idle_app_no_dfu_unnamed(build):
    # manifestation tolerant: read back unchanged, reset by the plugin into the same kind of
    # application
    run = Run(build, "ending-idle-app-no-dfu-unnamed", mode="dfu",
              extra=["--app-dfu", "no", "--runtime-pid", UNNAMED_APP_PID]).run()
    run.check_flashed()
    check(run.summary.get("bytes_uploaded", 0) >= len(run.read(run.image)),
          "the image was not read back: %r" % run.summary)
    check(run.summary.get("final_mode") == "runtime", "device ended in %r" %
          run.summary.get("final_mode"))
    run.check_not_read_back()
    check_nothing_listed(run)


def case_ending_idle_app_no_dfu_unnamed_mismatch(build):
    # the same ending, but the read-back differs from the image: the update fails, says
    # where, and the device stays in DFU mode for the next try
    run = Run(build, "ending-idle-app-no-dfu-unnamed-mismatch", mode="dfu",
              extra=["--app-dfu", "no", "--runtime-pid", UNNAMED_APP_PID,
                     "--fault", "corrupt:upload:3"]).run()
    check_failed_in_dfu_mode(run, "verification failed")


def case_ending_app_no_dfu_unnamed_refused(build):
    # the device checks the image at manifestation and refuses it (errFIRMWARE): the update
    # fails with the device's status, never done
    run = Run(build, "ending-app-no-dfu-unnamed-refused", mode="dfu",
              extra=["--manifest-tolerant", "no", "--manifest-ending", "reset",
                     "--app-dfu", "no", "--runtime-pid", UNNAMED_APP_PID,
                     "--manifest-status", "errFIRMWARE"]).run()
    check_failed_in_dfu_mode(run, "errFIRMWARE")


def case_update_dfu_mode(build):
    run = Run(build, "update-dfu-mode", mode="dfu").run()
    run.check_flashed()


def case_update_ihex(build):
    run = Run(build, "update-ihex", file_format="hex").run()
    run.check_flashed()


def case_truncated(build):
    run = Run(build, "truncated")
    with open(run.file, "rb") as f:
        data = f.read()
    with open(run.file, "wb") as f:
        f.write(data[: len(data) // 2])
    run.run()
    run.check_failed("truncated")
    run.check_untouched()


def case_bad_crc(build):
    run = Run(build, "bad-crc")
    with open(run.file, "r+b") as f:
        f.seek(1000)
        b = f.read(1)
        f.seek(1000)
        f.write(bytes([b[0] ^ 0x55]))
    run.run()
    run.check_failed("CRC")
    run.check_untouched()


def case_wrong_vid_pid(build):
    run = Run(build, "wrong-vid-pid", file_vid=0x0483, file_pid=0xDF11).run()
    run.check_failed("0483:df11")
    run.check_untouched()


# A .dfu suffix may name either identity of a device whose runtime (1209:0010) and DFU mode
# (1209:0011) are linked by CounterpartGuid, or 0xFFFF, in either mode
def suffix_case(build, name, mode, vid, pid):
    run = Run(build, name, mode=mode, file_vid=vid, file_pid=pid).run()
    run.check_flashed()
    check(run.result["after"][0]["Version"] == bcd(VERSION_NEW), "new version not read back: %r"
          % run.result["after"])


def case_suffix_dfu_ids_in_runtime(build):
    suffix_case(build, "suffix-dfu-ids-in-runtime", "runtime", 0x1209, 0x0011)


def case_suffix_runtime_ids_in_dfu_mode(build):
    suffix_case(build, "suffix-runtime-ids-in-dfu-mode", "dfu", 0x1209, 0x0010)


def case_suffix_any(build):
    suffix_case(build, "suffix-any", "runtime", 0xFFFF, 0xFFFF)


def case_suffix_foreign(build):
    # another product of the same vendor: refused before anything is written, naming both
    # identities of the device
    run = Run(build, "suffix-foreign", file_vid=0x1209, file_pid=0x0099).run()
    run.check_failed("1209:0099", "runtime 1209:0010", "DFU mode 1209:0011")
    run.check_untouched()
    check(not run.requests("dnload"), "DNLOAD sent: %r" % run.requests("dnload")[:1])


def case_too_large(build):
    run = Run(build, "too-large", image_size=0x14000).run()
    run.check_failed("device holds")
    run.check_untouched()


def case_stall_mid_write(build):
    run = Run(build, "stall-mid-write", extra=["--fault", "stall:dnload:20"]).run()
    run.check_failed("refused DNLOAD", "block 19")


def case_unplug_mid_write(build):
    run = Run(build, "unplug-mid-write", extra=["--fault", "unplug:dnload:20"]).run()
    run.check_failed("disconnected", "block 19")


def case_timeout_mid_write(build):
    run = Run(build, "timeout-mid-write", extra=["--fault", "timeout:getstatus:20"]).run()
    run.check_failed("did not answer GETSTATUS")


def case_status_error(build):
    run = Run(build, "status-error", extra=["--fault", "errWRITE:dnload:10"]).run()
    run.check_failed("errWRITE", "block 9")


def case_retry_after_stall(build):
    # the update fails mid-write and leaves the device in DFU mode with half an image: the
    # same update, run again on the device as fwupd now sees it, completes it
    run = Run(build, "retry-after-stall", extra=["--fault", "stall:dnload:20"]).run(retry=True)
    run.check_failed("refused DNLOAD")
    retry = run.result.get("retry", {})
    check(retry.get("rc") == 0, "second install failed:\n%s" % retry.get("stderr"))
    image = run.read(run.image)
    check(run.flash()[: len(image)] == image, "flash does not hold the image after the retry")
    check(run.result["final"][0]["Version"] == bcd(VERSION_NEW), "new version not read back")


def case_dump(build):
    run = Run(build, "dump", mode="dfu")
    dump = os.path.join(run.dir, "dump.bin")
    run.run(install=False, dump=dump)
    check(run.result.get("dump", {}).get("rc") == 0, "dump failed:\n%s" %
          run.result.get("dump", {}).get("stderr"))
    check(run.read(dump) == run.read(run.flash_in), "dump differs from the flash")


if __name__ == "__main__":
    sys.exit(run_case_cli(cases_of(globals())))
