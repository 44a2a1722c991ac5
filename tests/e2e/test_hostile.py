#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""End-to-end tests of the dfu-core plugin against simulated devices that lie: a transfer
size at the 16-bit maximum, status replies of the wrong length or with impossible values,
uploads that return other bytes or fewer than were written.

  test_hostile.py --build BUILD CASE

Each must end, within the harness's bound, updated byte-exact or in a clear error, with no
write outside the image; none asserts on elapsed time. Devices that stay busy forever are
covered by test_dfuse.py (stm32f4-stuck-busy). A control transfer cannot return more bytes
than its wLength (the host's buffer is that long), so "more than asked" is not simulated.
"""

import sys

from e2e_common import Run, run_case_cli, check

DFUSE_FLASH = 0x08000000


def check_writes_inside_image(run):
    """DFU 1.1 model: write offsets are in the flash, the image starts at 0."""
    size = len(run.read(run.image))
    for w in run.events("write"):
        check(w["address"] + w["length"] <= size,
              "write at 0x%x+%d is outside the %d-byte image" % (w["address"], w["length"], size))


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
    check_writes_inside_image(run)


def case_dfuse_transfer_size_max(build):
    run = Run(build, "hostile-dfuse-transfer-size-max", profile="stm32f4-dfuse", mode="dfu",
              extra=["--transfer-size", "65535"], file_pid=0xDF11).run()
    check_bounded(run)
    image = run.read(run.image)
    check(run.result["install"]["rc"] == 0, "install failed:\n%s" % run.install_stderr())
    check(run.flash()[: len(image)] == image, "flash does not hold the image")
    for w in run.events("write"):
        check(DFUSE_FLASH <= w["address"] and
              w["address"] + w["length"] <= DFUSE_FLASH + len(image),
              "write at 0x%08x+%d is outside the image" % (w["address"], w["length"]))


def case_short_status(build):
    run = Run(build, "hostile-short-status", extra=["--fault", "short:getstatus:3"]).run()
    check_bounded(run)
    run.check_failed("3-byte status reply instead of 6")
    check_writes_inside_image(run)


def case_corrupt_status(build):
    run = Run(build, "hostile-corrupt-status", extra=["--fault", "corrupt:getstatus:3"]).run()
    check_bounded(run)
    run.check_failed("invalid status")
    check_writes_inside_image(run)


def case_corrupt_upload(build):
    # the read-back lies: verification must catch it and say where
    run = Run(build, "hostile-corrupt-upload", extra=["--fault", "corrupt:upload:2"]).run()
    check_bounded(run)
    run.check_failed("verification failed at 0x")
    check_writes_inside_image(run)


def case_short_upload(build):
    # the read-back stops early: fewer bytes than were written is not a verified image
    run = Run(build, "hostile-short-upload", extra=["--fault", "short:upload:2"]).run()
    check_bounded(run)
    run.check_failed("did not keep the whole image")
    check_writes_inside_image(run)


CASES = {name[len("case_"):].replace("_", "-"): fn for name, fn in globals().items()
         if name.startswith("case_")}


def main():
    return run_case_cli(CASES)


if __name__ == "__main__":
    sys.exit(main())
