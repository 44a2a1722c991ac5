#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The fault matrix: every fault the simulators can produce, for every plugin and simulated
device, at the start (0 %), the middle and the end (99 %) of the transfer, through Debian's
fwupdtool loading our modules.

Each case must end in one of two ways: the device updated byte-exact, or a clear error after
which the same update, run again on the device as fwupd then sees it (fwupd_client.py
--retry), updates it byte-exact. A device unplugged for good cannot be retried: that case
passes when the error is clear and the flash outside the image is untouched.

Where a fault lands is computed from a clean run of the same update (the baseline): the
request, message or write at that fraction of the transfer, counted as the simulator counts.

  fault_matrix.py --build BUILD [--device D]... [--fault F]... [--where 0|mid|99]...
                  [--jobs N] [--time-scale F]

Prints a Markdown table and the totals; exits 1 when a case failed.
"""

import argparse
import concurrent.futures
import os
import re
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

import test_nordic  # noqa: E402
from e2e_common import Failure, Run  # noqa: E402
from test_nordic import NrfRun  # noqa: E402

WHERE = {"0": 0.0, "mid": 0.5, "99": 0.99}
WHERE_LABEL = {"0": "0 %", "mid": "50 %", "99": "99 %"}
COBS_SCALE = 0.02
# the plugin's figures for the simulated COBS device at its time scale (as test_cobs.py)
COBS_QUIRK = """[USB\\VID_1209&PID_0020]
CobsSectorEraseTime = %d
CobsWordProgramTime = %d
CobsReplyTimeout = 250
""" % (round(2000 * COBS_SCALE), round(200 * COBS_SCALE))
# names this invocation's run directories, so that runs of other selections at the same
# time (meson runs its tests in parallel) keep theirs
RUN_TAG = "all"
PROGRESS_LINE = re.compile(r"^[^:]*…: \d+%$")


def at(fraction, count):
    """The 0-based index of the item at that fraction of count items."""
    return min(count - 1, int(fraction * count))


# --- DFU 1.1 and DfuSe (usbsim-run --fault KIND:REQUEST:N) ---

def dfu_transfer(base):
    """The trace index of every DNLOAD carrying data or a DfuSe command, in order."""
    return [i for i, r in enumerate(base.records)
            if r.get("request") == "dnload" and r.get("wLength", 0) > 0]


def dfu_count_until(base, request, index):
    """The 1-based count of the first `request` at or after trace record `index`."""
    before = sum(1 for r in base.records[:index] if r.get("request") == request)
    return before + 1


def dfu_fault(kind, request):
    def spec(base, fraction):
        transfer = dfu_transfer(base)
        index = transfer[at(fraction, len(transfer))]
        return ["--fault", "%s:%s:%d" % (kind, request, dfu_count_until(base, request, index))]
    return spec


def dfu_error_state(base, fraction):
    """dfuERROR: at 0 % on the first status request in DFU mode, before anything is
    written; else on the status request after the block there."""
    if fraction == 0.0:
        first = next(i for i, r in enumerate(base.records)
                     if r.get("request") == "getstatus" and r.get("mode") == "dfu")
        return ["--fault", "errUNKNOWN:getstatus:%d" % dfu_count_until(base, "getstatus", first)]
    return dfu_fault("errUNKNOWN", "getstatus")(base, fraction)


DFU_FAULTS = [
    ("STALL", "stall:dnload", dfu_fault("stall", "dnload")),
    ("no answer (host timeout)", "timeout:getstatus", dfu_fault("timeout", "getstatus")),
    ("unplug for good", "unplug:dnload", dfu_fault("unplug", "dnload")),
    ("corrupted reply", "corrupt:getstatus", dfu_fault("corrupt", "getstatus")),
    ("short reply", "short:getstatus", dfu_fault("short", "getstatus")),
    ("device reset (power loss, back in DFU mode)", "powerloss:dnload",
     dfu_fault("powerloss", "dnload")),
    ("wrong state (dfuERROR)", "errUNKNOWN:getstatus", dfu_error_state),
]


# --- COBS (usbsim-run --profile stm32h7-cobs --cobs-*) ---

def cobs_messages(base):
    return len(base.events("message"))


def cobs_option(option, value_of=lambda n: str(n), chunks=False):
    def spec(base, fraction):
        if chunks:
            return [option, value_of(at(fraction, base.summary["chunks"]) + 1)]
        return [option, value_of(at(fraction, cobs_messages(base)) + 1)]
    return spec


COBS_FAULTS = [
    # later than the plugin waits (250 ms a chunk, 570 ms the erase at this scale), and
    # over before the second install starts
    ("no answer (host timeout)", "--cobs-late-ack N:800",
     cobs_option("--cobs-late-ack", lambda n: "%d:800" % n)),
    ("unplug for good", "--cobs-disconnect-after N-1",
     cobs_option("--cobs-disconnect-after", lambda n: str(max(1, n - 1)))),
    ("corrupted reply", "--cobs-wrong-ack N", cobs_option("--cobs-wrong-ack")),
    ("broken reply frame", "--cobs-garbage N", cobs_option("--cobs-garbage")),
    ("wrong state (missing ACK)", "--cobs-no-ack N", cobs_option("--cobs-no-ack")),
    ("corrupted write, verify on", "--cobs-verify yes --cobs-corrupt-write N",
     lambda base, fraction: ["--cobs-verify", "yes"] +
     cobs_option("--cobs-corrupt-write", chunks=True)(base, fraction)),
]


# --- nRF Secure DFU (usbsim-nrf-run) ---

def nrf_write_index(base, fraction):
    """The trace index of the data write at that fraction, and its 1-based number."""
    writes = [i for i, r in enumerate(base.records) if r.get("event") == "write"]
    k = at(fraction, len(writes))
    return writes[k], k + 1


def nrf_responses_before(base, index, op=None):
    return sum(1 for r in base.records[:index]
               if "result" in r and r.get("request") != "write" and
               (op is None or r.get("request") == op))


def nrf_drop_response(base, fraction):
    index, _ = nrf_write_index(base, fraction)
    return ["--drop-response", str(nrf_responses_before(base, index) + 1)]


def nrf_reset(base, fraction):
    return ["--reset-after-writes", str(nrf_write_index(base, fraction)[1])]


def nrf_corrupt(base, fraction):
    return ["--corrupt-write", str(nrf_write_index(base, fraction)[1])]


def nrf_stale_object(base, fraction):
    n = nrf_write_index(base, fraction)[1]
    return ["--corrupt-write", str(n), "--reset-after-writes", str(n)]


def nrf_ext_error(base, fraction):
    index, _ = nrf_write_index(base, fraction)
    creates = nrf_responses_before(base, len(base.records), "create")
    n = min(creates, nrf_responses_before(base, index, "create") + 1)
    return ["--ext-error", "create:%d:0x0D" % n]


NRF_FAULTS = [
    ("no answer (host timeout)", "--drop-response N", nrf_drop_response),
    ("corrupted write (CRC shows it)", "--corrupt-write N", nrf_corrupt),
    ("device reset", "--reset-after-writes N", nrf_reset),
    ("wrong state (stale object: corrupted, then reset)",
     "--corrupt-write N --reset-after-writes N", nrf_stale_object),
    ("error reply (create refused)", "--ext-error create:N:0x0D", nrf_ext_error),
]


# --- devices ---

class DfuDevice:
    def __init__(self, profile, mode, image_size, file_pid=None):
        self.profile = profile
        self.mode = mode
        self.image_size = image_size
        self.file_pid = file_pid
        self.faults = DFU_FAULTS

    def make(self, build, name, extra, scale):
        kwargs = {}
        if self.file_pid is not None:
            kwargs = {"file_vid": 0x0483, "file_pid": self.file_pid}
        return Run(build, name, profile=self.profile, mode=self.mode, extra=extra,
                   image_size=self.image_size, time_scale=scale, **kwargs)

    def run(self, build, name, extra, scale):
        return Outcome(self.make(build, name, extra, scale).run(retry=True))


class CobsDevice:
    profile = "stm32h7-cobs"
    faults = COBS_FAULTS

    def run(self, build, name, extra, scale):
        return Outcome(Run(build, name, profile=self.profile, extra=extra, image_size=0x4000,
                           file_format="bin", quirks=COBS_QUIRK, plugin="cobs",
                           time_scale=str(COBS_SCALE)).run(retry=True))


class NrfDevice:
    faults = NRF_FAULTS

    def __init__(self, front):
        self.front = front

    def run(self, build, name, extra, scale):
        test_nordic.TIME_SCALE = scale
        r = NrfRun(build, name, self.front, ["application=10000"], ["--fw-version", "7"],
                   extra).run(retry=True)
        return NrfOutcome(r)


DEVICES = {
    "stm32f1-dfu": DfuDevice("stm32f1-dfu", "runtime", 0x4000),
    "stm32f4-dfuse": DfuDevice("stm32f4-dfuse", "dfu", 0x6000, file_pid=0xDF11),
    "stm32h7-cobs": CobsDevice(),
    "nrf52840-dongle": NrfDevice("usb"),
    "nrf52-uart": NrfDevice("uart"),
}


# --- how a case ended ---

def error_line(stderr):
    """fwupdtool's error: its last line that is not progress."""
    lines = [ln.strip() for ln in stderr.splitlines()
             if ln.strip() and not PROGRESS_LINE.match(ln.strip())]
    return lines[-1] if lines else ""


def clear(message):
    return len(message) > 15 and "(null)" not in message and "Success" not in message


class Outcome:
    """A DFU, DfuSe or COBS run: the image at the start of the flash."""

    def __init__(self, run):
        self.run = run

    def image_exact(self):
        image = self.run.read(self.run.image)
        return self.run.flash()[:len(image)] == image

    def outside_untouched(self):
        """Past the image, each KiB holds what it held or is erased (its page or sector
        was erased to take the image)."""
        image_len = len(self.run.read(self.run.image))
        flash, before = self.run.flash(), self.run.read(self.run.flash_in)
        for off in range(image_len, len(flash), 1024):
            piece = flash[off:off + 1024]
            if piece != before[off:off + 1024] and piece != b"\xff" * len(piece):
                return False
        return True

    def gone(self):
        return bool(self.run.summary.get("unplugged")) or not self.run.result.get("after")

    def faults_fired(self):
        return self.run.summary.get("faults_fired", 0)


class NrfOutcome(Outcome):
    def image_exact(self):
        app = self.run.bins["application"]
        start = self.run.model["app_start"]
        return (self.run.flash()[start:start + len(app)] == app and
                bool(self.run.summary.get("app_valid")))

    def outside_untouched(self):
        return True

    def gone(self):
        return False

    def faults_fired(self):
        return self.run.summary.get("faults_fired", 0)


def judge(outcome, expect_fault=True):
    """(passed, how it ended, fwupdtool's error)"""
    result = outcome.run.result
    install = result.get("install", {})
    if expect_fault and outcome.faults_fired() <= 0:
        return False, "FAILED: the fault never fired", ""
    message = error_line(install.get("stderr", ""))
    if install.get("rc") == 0:
        if outcome.image_exact() and outcome.outside_untouched():
            return True, "updated", ""
        return False, "FAILED: install succeeded, flash not byte-exact", ""
    if not clear(message):
        return False, "FAILED: unclear error", message
    if outcome.gone():
        if outcome.outside_untouched():
            return True, "error, device gone", message
        return False, "FAILED: device gone, flash outside the image changed", message
    retry = result.get("retry")
    if retry is None:
        return False, "FAILED: no device to retry on", message
    if retry.get("rc") != 0:
        return False, "FAILED: retry failed: %s" % error_line(retry.get("stderr", "")), message
    if not (outcome.image_exact() and outcome.outside_untouched()):
        return False, "FAILED: retry succeeded, flash not byte-exact", message
    return True, "error then retry updated", message


def run_case(build, device_name, fault, where, base, scale):
    label, option, spec = fault
    device = DEVICES[device_name]
    extra = spec(base.run, WHERE[where])
    name = "fault-%s-%s-%s-%s" % (RUN_TAG, device_name,
                                  re.sub(r"[^a-z0-9]+", "-", option.lower()), where)
    try:
        outcome = device.run(build, name.strip("-"), extra, scale)
        passed, how, message = judge(outcome)
    except Failure as e:
        passed, how, message = False, "FAILED: %s" % str(e).splitlines()[0], ""
    return {"device": device_name, "fault": label, "option": " ".join(extra), "where": where,
            "passed": passed, "how": how, "message": message}


def baseline(build, device_name, scale):
    outcome = DEVICES[device_name].run(build, "fault-%s-%s-baseline" % (RUN_TAG, device_name),
                                       [], scale)
    passed, how, _ = judge(outcome, expect_fault=False)
    if not passed or how != "updated":
        raise SystemExit("%s: the update without a fault did not succeed: %s" %
                         (device_name, how))
    return outcome


def table(rows):
    out = ["| case | fault | simulator option | where | how it ended | fwupdtool's error |",
           "|---|---|---|---|---|---|"]
    for i, r in enumerate(rows, 1):
        message = r["message"].replace("failed to write-firmware: ", "").replace("|", "\\|")
        if len(message) > 140:
            message = message[:137] + "..."
        out.append("| %d %s | %s | `%s` | %s | %s | %s |" % (
            i, r["device"], r["fault"], r["option"], WHERE_LABEL[r["where"]], r["how"], message))
    out.append("")
    out.append(totals([r["passed"] for r in rows]))
    return "\n".join(out)


def totals(passed):
    """The last line of a sweep's report; passed: whether each case passed."""
    return "Cases tried: %d, passed: %d, failed: %d." % (len(passed), sum(passed),
                                                         len(passed) - sum(passed))


def sweep_arguments(add_selection):
    """The command line of a sweep: --build, the options add_selection(parser) adds to choose
    the cases, --jobs and --time-scale; None without root, which fwupdtool needs (the run is
    then skipped)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    add_selection(parser)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--time-scale", default="0.02")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("SKIP: fwupdtool needs root")
        return None
    return args


def selection_options(parser):
    parser.add_argument("--device", action="append", choices=sorted(DEVICES))
    parser.add_argument("--fault", action="append",
                        help="a simulator option as the table names it, e.g. stall:dnload")
    parser.add_argument("--where", action="append", choices=sorted(WHERE))


def main():
    args = sweep_arguments(selection_options)
    if args is None:
        return 77
    global RUN_TAG
    RUN_TAG = "%08x" % zlib.crc32(" ".join(sys.argv[1:]).encode())
    devices = args.device or ["stm32f1-dfu", "stm32f4-dfuse", "stm32h7-cobs",
                              "nrf52840-dongle", "nrf52-uart"]
    wheres = args.where or ["0", "mid", "99"]
    build = os.path.abspath(args.build)
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        bases = dict(zip(devices, pool.map(lambda d: baseline(build, d, args.time_scale),
                                           devices)))
        jobs = []
        for d in devices:
            for fault in DEVICES[d].faults:
                if args.fault and fault[1] not in args.fault:
                    continue
                for where in wheres:
                    jobs.append(pool.submit(run_case, build, d, fault, where, bases[d],
                                            args.time_scale))
        rows = [j.result() for j in jobs]
    print(table(rows))
    return 0 if rows and all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
