#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""End-to-end tests of the nordic-dfu plugin against simulated nRF5 SDK Secure DFU bootloaders
that lie (tests/usbsim/usbsim-nrf-run's hostile switches), through Debian's fwupdtool:

  test_nordic_hostile.py --build BUILD [--front usb|uart] CASE

Each case must end, within the harness's bound, in a correct update (the image byte-exact in
bank 0 and activated) or in an error that names what the device did; in both, every write and
every erase the model recorded lies inside the image's pages. The error fwupdtool printed is
echoed ("fwupdtool: ...") for docs/reliability.md. No check is on elapsed time.
"""

import sys

import test_nordic
from e2e_common import cases_of, check, run_case_cli

PAGE = 4096
IMAGE = 10000  # three objects: 4096, 4096, 1808


def check_inside_image(r):
    """No byte written, no page erased, outside the image's pages of bank 0."""
    size = len(r.bins["application"])
    start = r.model["app_start"]
    end = start + (size + PAGE - 1) // PAGE * PAGE
    for w in r.events("write"):
        check(start <= w["address"] and w["address"] + w["length"] <= start + size,
              "write at 0x%x+%d is outside the image" % (w["address"], w["length"]))
    for e in r.events("erase"):
        check(start <= e["address"] and e["address"] + e["size"] <= end,
              "erase at 0x%x+%d is outside the image's pages" % (e["address"], e["size"]))


def error_line(r):
    """The last line of fwupdtool's error output that says why."""
    lines = [line.strip() for line in r.stderr().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run(build, name, front, sim_args):
    r = test_nordic.NrfRun(build, "hostile-" + name, front, ["application=%d" % IMAGE],
                           ["--fw-version", "7"], sim_args).run()
    check_inside_image(r)
    return r


def updated(build, name, front, sim_args, fired=True):
    r = run(build, name, front, sim_args)
    r.check_installed()
    r.check_app()
    check(r.summary["images_activated"] == 1, "the image was not activated")
    if fired:
        check(r.summary["faults_fired"] > 0, "the hostile behaviour never showed")
    print("fwupdtool: updated")
    return r


def failed(build, name, front, sim_args, *needles):
    r = run(build, name, front, sim_args)
    inst = r.result.get("install", {})
    check(inst.get("rc") not in (None, 0), "install succeeded against a device that lies:\n%s"
          % r.stderr())
    err = r.stderr()
    for needle in needles:
        check(needle.lower() in err.lower(), "the error does not say %r:\n%s" % (needle, err))
    check(not r.summary.get("images_activated"), "an image was activated")
    print("fwupdtool: " + error_line(r))
    return r


def case_mtu_0(build, front):
    r = failed(build, "mtu-0", front, ["--mtu", "0"], "MTU of 0 bytes")
    check(not r.events("write"), "the device was written with an MTU of 0")


def case_mtu_1(build, front):
    r = failed(build, "mtu-1", front, ["--mtu", "1"], "MTU of 1 bytes")
    check(not r.events("write"), "the device was written with an MTU of 1")


def case_mtu_odd(build, front):
    # 101: writes of (101 - 1) / 2 - 1 = 49 bytes, the frames fit the device's buffer
    r = updated(build, "mtu-odd", front, ["--mtu", "101"], fired=False)
    lengths = {w["length"] for w in r.events("write")}
    check(max(lengths) <= 49, "writes of up to %d bytes for an MTU of 101" % max(lengths))
    check(r.summary["frames_oversize"] == 0, "frames longer than the MTU were sent")


def case_mtu_huge(build, front):
    # 65535, far above both transports: USB takes the largest frame the SDK's USB transport
    # has (2051) and updates; a UART whose buffer holds 131 drops the longer frames
    r = run(build, "mtu-huge", front, ["--mtu", "65535"])
    if front == "usb":
        r.check_installed()
        r.check_app()
        check(r.summary["frames_oversize"] == 0, "frames longer than 2051 bytes were sent")
        print("fwupdtool: updated")
        return
    inst = r.result.get("install", {})
    check(inst.get("rc") not in (None, 0), "install succeeded with every write dropped")
    check(r.summary["frames_oversize"] > 0, "no write was too long for the UART")
    check("it took none of the writes" in r.stderr(),
          "the error does not say the writes were lost:\n" + r.stderr())
    check(not r.summary.get("images_activated"), "an image was activated")
    print("fwupdtool: " + error_line(r))


def case_max_object_0(build, front):
    r = failed(build, "max-object-0", front, ["--max-object-size", "0"], "object size of 0")
    check(not r.events("write"), "the device was written with an object size of 0")


def case_max_object_huge(build, front):
    # the whole 10000-byte image is one object of the size claimed; the device takes a page
    r = failed(build, "max-object-huge", front, ["--max-object-size", "0xFFFFFFFF"],
               "CREATE of data object 1 (10000 bytes at offset 0) failed: insufficient "
               "resources", "up to 4294967295 bytes")
    check(not r.events("write"), "data was written to an object the device refused")


def case_max_object_4097(build, front):
    r = failed(build, "max-object-4097", front, ["--max-object-size", "4097"],
               "CREATE of data object 1 (4097 bytes at offset 0) failed: invalid parameter",
               "up to 4097 bytes")
    check(not r.events("write"), "data was written to an object the device refused")


def case_select_beyond_object(build, front):
    # offset 5000 of 10000, past the first 4096-byte object, with the CRC of what the device
    # holds, on every select: the CRC is not the image's, so the host creates objects where
    # the device really stands (its CRC replies show it) and the image ends correct
    r = updated(build, "select-beyond-object", front, ["--select-offset", "5000"], fired=False)
    selects = [q for q in r.requests("select") if q["object"] == 2]
    check(selects, "no data select was made")


def case_select_beyond_image(build, front):
    failed(build, "select-beyond-image", front, ["--select-offset", "20000"],
           "holds more data than the image")


def case_crc_wrong(build, front):
    failed(build, "crc-wrong", front, ["--crc-wrong"], "CRC kept disagreeing")


def case_reply_other_op(build, front):
    # each SELECT is answered as if it were the request before it: MTU GET, then SELECT's own
    # repeat named PING
    r = failed(build, "reply-other-op", front, ["--reply-other-op", "select"],
               "no reply to SELECT", "other frame instead, the last a 15-byte response to")
    named = [e["named"] for e in r.events("fault")]
    check(named and named[0] == "mtu_get", "the first SELECT was answered as %s" % named)


def case_reply_wrong_length(build, front):
    failed(build, "reply-wrong-length", front, ["--reply-wrong-length", "select"],
           "no reply to SELECT", "14-byte response to SELECT")


def case_unsolicited(build, front):
    updated(build, "unsolicited", front, ["--unsolicited"])


def case_endless_frame(build, front):
    r = failed(build, "endless-frame", front, ["--endless-frame", "select"],
               "no reply to SELECT", "no frame end")
    check(r.summary["endless_bytes"] > 0, "the device sent nothing")


def case_flash_size(build, front):
    # HW version claims 8 KiB of flash: the 10000-byte image cannot fit; refused before any
    # byte is sent
    r = failed(build, "flash-size", front, ["--flash-size", "8192"], "8192")
    check(not r.events("write") and not r.events("erase"), "the device was written")


def case_refuse_execute(build, front):
    r = failed(build, "refuse-execute", front, ["--refuse-execute", "2"],
               "refused EXECUTE of object 2", "went back to offset 0")
    check(len(r.events("fault")) == 3, "the EXECUTE of object 2 was refused %d times, not 3" %
          len(r.events("fault")))


def case_mute_execute(build, front):
    r = failed(build, "mute-execute", front, ["--mute-execute", "2"],
               "did not answer EXECUTE of object 2")
    check(r.summary["objects_data"] == 1, "%d data objects executed, not 1" %
          r.summary["objects_data"])


def case_trigger_garbage(build, front):
    """The application's DFU trigger interface answers NORDIC_INFO with 0xFF bytes (address,
    size and flash size 0xFFFFFFFF) and SEMVER with binary junk without a NUL: the runtime
    device is listed without a version it could not read, DETACH still takes it to the
    bootloader, and the update completes there."""
    r = test_nordic.NrfRun(build, "hostile-trigger-garbage", front, ["application=%d" % IMAGE],
                           ["--fw-version", "10300"],
                           ["--app-valid", "--app-version", "10203", "--app-runs", "dfu-trigger",
                            "--trigger-garbage"])
    rc, out, before, after = test_nordic.run_cabinet(
        r, ["--instance-id", "USB\\VID_1209&PID_0030", "--version", "1.3.0",
            "--version-format", "triplet"])
    check_inside_image(r)
    check(before, "the runtime device is not listed")
    check(rc == 0, "fwupdtool install failed (%d):\n%s" % (rc, out[-3000:]))
    check("are not a version string" in out, "fwupdtool does not say the version is junk:\n" +
          out[-3000:])
    r.check_app()
    check(len([q for q in r.records if q.get("request") == "detach"]) == 1,
          "the application was not detached once")
    print("fwupdtool: updated; " + [line for line in out.splitlines()
                                    if "not a version string" in line][0].strip())


CASES = cases_of(globals())

# the cases meson also runs on the UART front (--list), where they are about its framing; the
# others run on the USB CDC front only
UART_TOO = ["mtu-huge", "unsolicited", "endless-frame"]


def fronts(case):
    return ["usb", "uart"] if case in UART_TOO else ["usb"]


def main():
    return run_case_cli(CASES, lambda case, args: case(args.build, args.front),
                        test_nordic.front_option, fronts, needs_root=True)


if __name__ == "__main__":
    sys.exit(main())
