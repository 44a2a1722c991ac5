#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""End-to-end updates with fwupdtool under valgrind memcheck: each case is an end-to-end test
of tests/e2e, run as it is, with every fwupdtool it starts wrapped in valgrind
(tests/run-fwupdtool's FWUPD_TEST_WRAPPER). The case's own checks must pass, and memcheck must
report no error and no definite leak: fwupd's and GLib's own are in fwupd.supp, so what is
left is ours.

  valgrind-e2e.py [--build BUILD] [--quick] [CASE...]     (CASE: test_dfu_core:update-runtime)

Prints one line per case, then each error with the frames that name our code.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
E2E = os.path.join(TOP, "tests", "e2e")

# a successful flash of each plugin, and the failure paths most likely to leak
CASES = [
    "test_dfu_core:update-runtime",
    "test_dfu_core:update-not-tolerant",
    "test_dfu_core:retry-after-stall",
    "test_dfu_core:unplug-mid-write",
    "test_dfu_core:truncated",
    "test_dfu_core:dump",
    "test_dfuse:stm32f4-multi-target",
    "test_dfuse:stm32f4-outside-writable",
    "test_dfuse:stm32f1-runtime",
    "test_cobs:verify",
    "test_cobs:no-ack",
    "test_cobs:garbage",
    "test_cobs:too-large",
    "test_nordic:app",
    "test_nordic:sd-bl",
    "test_nordic:resume",
    "test_nordic:refuse-hash",
    "test_nordic:drop-response",
]
QUICK = ["test_dfu_core:update-runtime", "test_dfuse:stm32f4-multi-target", "test_cobs:verify",
         "test_nordic:app"]
# arguments a test script needs before the case name
SCRIPT_ARGS = {"test_nordic": ["--front", "usb"]}

# frames of our own code: the modules, and the cores linked into them
OURS = re.compile(r"libfu_plugin_(dfu_core|cobs|nordic_dfu)\.so|\b(fu_dfu_core_|fu_cobs_|"
                  r"fu_nordic_dfu_|dfu_proto_|cobs_proto_|nrf_dfu_proto_)")


def is_ours(block):
    """A leak whose allocation passed through our code, or an error in our code's frames at
    the top of the stack (fwupd calls our module for everything, so deeper frames say
    nothing)."""
    frames = [line for line in block if re.match(r"\s*(at|by) 0x", line)]
    if "definitely lost" in block[0]:
        return any(OURS.search(f) for f in frames)
    return any(OURS.search(f) for f in frames[:4])


def valgrind_wrapper(log_dir):
    return " ".join([
        "valgrind", "--quiet", "--leak-check=full", "--show-leak-kinds=definite",
        "--errors-for-leak-kinds=definite", "--num-callers=40",
        "--suppressions=" + os.path.join(HERE, "fwupd.supp"),
        "--log-file=" + os.path.join(log_dir, "memcheck.%p.log"),
    ])


def parse_log(path):
    """The error blocks memcheck wrote (with --quiet nothing else), each a list of lines."""
    blocks, block = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            text = re.sub(r"^==\d+==\s?", "", line.rstrip("\n"))
            if text.strip():
                block.append(text)
            elif block:
                blocks.append(block)
                block = []
    if block:
        blocks.append(block)
    return blocks


def run_case(build, case):
    script, name = case.split(":")
    log_dir = os.path.join(build, "valgrind", name)
    shutil.rmtree(log_dir, ignore_errors=True)
    os.makedirs(log_dir)
    env = dict(os.environ, FWUPD_TEST_WRAPPER=valgrind_wrapper(log_dir))
    start = time.monotonic()
    cmd = ["/usr/bin/python3", os.path.join(E2E, script + ".py"), "--build", build]
    proc = subprocess.run(cmd + SCRIPT_ARGS.get(script, []) + [name], env=env,
                          capture_output=True, text=True)
    seconds = time.monotonic() - start
    logs = sorted(glob.glob(os.path.join(log_dir, "memcheck.*.log")))
    errors = [b for log in logs for b in parse_log(log)]
    return proc, seconds, len(logs), errors


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(TOP, "build"))
    parser.add_argument("--quick", action="store_true", help="one update of each plugin")
    parser.add_argument("cases", nargs="*")
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    if not shutil.which("valgrind"):
        print("valgrind is not installed")
        return 1
    cases = args.cases or (QUICK if args.quick else CASES)
    failed = 0
    print("%-40s %-6s %9s %6s %7s %5s" % ("case", "test", "seconds", "runs", "errors", "ours"))
    for case in cases:
        proc, seconds, runs, errors = run_case(build, case)
        ours = [e for e in errors if is_ours(e)]
        ok = proc.returncode == 0 and runs > 0 and not errors
        failed += not ok
        print("%-40s %-6s %9.1f %6d %7d %5d" % (case, "pass" if proc.returncode == 0 else "FAIL",
                                                seconds, runs, len(errors), len(ours)))
        if proc.returncode != 0:
            print("    " + (proc.stdout + proc.stderr).strip()[-2000:].replace("\n", "\n    "))
        for err in errors:
            print("    " + "\n    ".join(err[:30]))
    print("%d of %d cases clean" % (len(cases) - failed, len(cases)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
