#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Power loss at every unit boundary of the transfer and in between, through Debian's
fwupdtool loading our modules.

- DfuSe (stm32f4-dfuse, an image over three sectors): the power goes at the erase command of
  each sector, at its first, middle and last block, and at the leave request
  (usbsim-run --fault powerloss:dnload:N); the device comes back in its bootloader. The next
  install restarts cleanly: it writes the whole image again, erasing before writing.
- nRF Secure DFU (nrf52840-dongle, five objects): the device resets after the first, a
  middle and the last write of each object (usbsim-nrf-run --reset-after-writes N). The
  next install resumes at the first object the device had not executed: only the objects
  not yet executed are sent again, as the model's record shows.

Either way the final image is byte-exact, and the error of the interrupted install, if
fwupdtool saw one, is clear.

  power_loss.py --build BUILD [--device stm32f4-dfuse|nrf52840-dongle]... [--quick]
                [--jobs N] [--time-scale F]

--quick runs one boundary and one point in between for each device.
"""

import concurrent.futures
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

import test_nordic  # noqa: E402
from e2e_common import Failure, Run  # noqa: E402
from fault_matrix import (NrfOutcome, Outcome, clear, error_line, sweep_arguments,  # noqa: E402
                          totals)
from test_nordic import NrfRun  # noqa: E402

DFUSE_IMAGE = 0xA000  # sectors 0 and 1 whole, 8 KiB of sector 2
NRF_IMAGE = 20000  # four 4 KiB objects and one of 3616 bytes
NRF_OBJECT = 4096


def dfuse_run(build, name, extra, scale):
    return Run(build, name, profile="stm32f4-dfuse", mode="dfu", extra=extra,
               image_size=DFUSE_IMAGE, file_vid=0x0483, file_pid=0xDF11,
               time_scale=scale).run(retry=True)


def dfuse_points(base):
    """(label, DNLOAD number) for each sector's erase command, first, middle and last
    block, and the leave request, from what a clean run did."""
    dnloads = 0
    last_dnload = None
    erase_at = {}
    blocks = {}
    leave = None
    for r in base.records:
        if r.get("request") == "dnload":
            dnloads += 1
            last_dnload = dnloads
            if r.get("wLength", 0) == 0:
                leave = dnloads
        elif r.get("event") == "erase" and r.get("status", 0) == 0:
            erase_at[r["address"]] = last_dnload
        elif r.get("event") == "write" and r.get("status", 0) == 0:
            sector = max(a for a in erase_at if a <= r["address"])
            blocks.setdefault(sector, []).append(last_dnload)
    points = []
    for i, sector in enumerate(sorted(erase_at)):
        nums = blocks[sector]
        points += [("sector %d: its erase command" % i, erase_at[sector]),
                   ("sector %d: first block" % i, nums[0]),
                   ("sector %d: middle block" % i, nums[len(nums) // 2]),
                   ("sector %d: last block" % i, nums[-1])]
    points.append(("the leave request", leave))
    return points


def dfuse_case(build, label, n, scale):
    run = dfuse_run(build, "power-loss-dfuse-%d" % n, ["--fault", "powerloss:dnload:%d" % n],
                    scale)
    check_recovered(Outcome(run))
    if label == "the leave request":
        # the image was complete and read back before the leave: nothing to write again
        return label, "powerloss:dnload:%d" % n, how(run)
    # a clean restart: after the power came back, the whole image is written again
    back = next(i for i, r in enumerate(run.records) if r.get("event") == "reenumerate")
    written = sorted((w["address"], w["length"]) for w in run.records[back:]
                     if w.get("event") == "write" and w.get("status", 0) == 0)
    end = 0x08000000
    for address, length in written:
        if address > end:
            break
        end = max(end, address + length)
    if end < 0x08000000 + DFUSE_IMAGE:
        raise Failure("after the power came back the image was written only up to 0x%08x" %
                      end)
    not_erased = [w for w in run.records if w.get("event") == "write" and
                  not w.get("erased", True)]
    if not_erased:
        raise Failure("written over flash that was not erased: %r" % not_erased[0])
    return label, "powerloss:dnload:%d" % n, how(run)


def nrf_run(build, name, extra, scale):
    test_nordic.TIME_SCALE = scale
    return NrfRun(build, name, "usb", ["application=%d" % NRF_IMAGE], ["--fw-version", "7"],
                  extra).run(retry=True)


def nrf_points(base):
    """(label, write number) for the first, a middle and the last write of each object."""
    writes = [r for r in base.records if r.get("event") == "write"]
    objects = {}
    for n, w in enumerate(writes, 1):
        objects.setdefault((w["address"] - base.model["app_start"]) // NRF_OBJECT, []).append(n)
    points = []
    for obj, nums in sorted(objects.items()):
        points += [("object %d: first write" % obj, nums[0]),
                   ("object %d: middle write" % obj, nums[len(nums) // 2]),
                   ("object %d: last write" % obj, nums[-1])]
    seen = set()
    return [(label, n) for label, n in points if not (n in seen or seen.add(n))]


def nrf_case(build, label, n, scale):
    run = nrf_run(build, "power-loss-%d" % n, ["--reset-after-writes", str(n)], scale)
    check_recovered(NrfOutcome(run))
    # the objects the device executed before the reset are not sent again
    reset = next(i for i, r in enumerate(run.records)
                 if r.get("event") == "reset" and r.get("reason") == "reset-after-writes")
    executed = sum(1 for r in run.records[:reset]
                   if r.get("request") == "execute" and r.get("result") == 1) - 1
    later = [w for w in run.records[reset:] if w.get("event") == "write"]
    if not later:
        raise Failure("nothing was written after the reset")
    first = min(w["address"] for w in later)
    expected = run.model["app_start"] + executed * NRF_OBJECT
    if first != expected:
        raise Failure("after the reset writing restarted at 0x%x, the device had executed %d "
                      "objects (0x%x)" % (first, executed, expected))
    resent = sum(w["length"] for w in later)
    if resent != NRF_IMAGE - executed * NRF_OBJECT:
        raise Failure("%d bytes sent after the reset, %d were not executed" %
                      (resent, NRF_IMAGE - executed * NRF_OBJECT))
    return (label, "--reset-after-writes %d" % n,
            "%s; resumed at object %d, %d bytes sent again" % (how(run), executed, resent))


def check_recovered(outcome):
    install = outcome.run.result.get("install", {})
    if install.get("rc") != 0:
        message = error_line(install.get("stderr", ""))
        if not clear(message):
            raise Failure("unclear error: %r" % message)
        retry = outcome.run.result.get("retry")
        if retry is None or retry.get("rc") != 0:
            raise Failure("the second install failed: %s" %
                          error_line((retry or {}).get("stderr", "")))
    if not outcome.image_exact() or not outcome.outside_untouched():
        raise Failure("the image is not byte-exact in the end")


def how(run):
    if run.result.get("install", {}).get("rc") == 0:
        return "updated (the plugin recovered within the install)"
    return "error then retry updated"


# each device: the run (as dfuse_run), the name of its clean run, the points of that run where
# the power goes (label, number), the case at one point, and the labels --quick keeps
SWEEPS = {
    "stm32f4-dfuse": (dfuse_run, "power-loss-dfuse-baseline", dfuse_points, dfuse_case,
                      {"sector 1: its erase command", "sector 1: middle block"}),
    "nrf52840-dongle": (nrf_run, "power-loss-baseline", nrf_points, nrf_case,
                        {"object 1: last write", "object 2: middle write"}),
}


def selection_options(parser):
    parser.add_argument("--device", action="append", choices=list(SWEEPS))
    parser.add_argument("--quick", action="store_true")


def main():
    args = sweep_arguments(selection_options)
    if args is None:
        return 77
    build = os.path.abspath(args.build)
    cases = []
    for device, (run, baseline, points_of, case, quick_labels) in SWEEPS.items():
        if args.device and device not in args.device:
            continue
        points = points_of(run(build, baseline, [], args.time_scale))
        if args.quick:
            points = [p for p in points if p[0] in quick_labels]
        cases += [(device, case, p) for p in points]

    def one(case):
        device, fn, (label, n) = case
        try:
            return (device,) + fn(build, label, n, args.time_scale) + (True,)
        except (Failure, OSError, StopIteration, KeyError) as e:
            return device, label, str(n), "FAILED: %s: %s" % (
                type(e).__name__, (str(e).splitlines() or [""])[0]), False

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(one, cases))
    print("| device | power lost at | simulator option | how it ended |")
    print("|---|---|---|---|")
    for device, label, option, ended, _ in rows:
        print("| %s | %s | `%s` | %s |" % (device, label, option, ended))
    print("\n" + totals([r[-1] for r in rows]))
    return 0 if rows and all(r[-1] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
