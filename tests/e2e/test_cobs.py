#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""End-to-end tests of the cobs plugin: Debian's fwupdtool, loading our module from the build
tree, updates the simulated STM32H7 COBS bootloader (tests/usbsim, profile stm32h7-cobs).

  test_cobs.py --build BUILD CASE

The model runs at a small time scale, and the plugin gets the same scale through a per-run
quirk (the flash figures shrink alike). The reply slack is not scaled: it covers the
emulation's own latency, which no time scale shrinks. Each misbehaviour must end in a clear
error, without the harness having to kill anything, and without bye being sent.
"""

import argparse
import re
import sys

from e2e_common import Failure, Run, check

SCALE = 0.02
FLASH = 0x100000
SECTOR = 0x20000
CHUNK = 61

# the plugin's figures for the simulated device at the model's time scale
SCALED_QUIRK = """[USB\\VID_1209&PID_0020]
CobsSectorEraseTime = %d
CobsWordProgramTime = %d
CobsReplyTimeout = 250
""" % (round(2000 * SCALE), round(200 * SCALE))


def cobs_run(build, name, image_size=0x4000, extra=None):
    return Run(build, name, profile="stm32h7-cobs", extra=extra or [], image_size=image_size,
               file_format="bin", quirks=SCALED_QUIRK, plugin="cobs",
               time_scale=str(SCALE)).run()


def messages(run, outcome=None):
    return [r for r in run.events("message") if outcome is None or r["outcome"] == outcome]


def check_no_bye(run):
    check(run.summary.get("byes", 0) == 0, "bye was sent after a failure")


def check_erased_whole_flash(run):
    erases = sorted((e["address"], e["size"]) for e in run.events("erase"))
    check(erases == [(a, SECTOR) for a in range(0, FLASH, SECTOR)],
          "erase did not clear every sector: %r" % erases)


def case_update_1mib(build):
    run = cobs_run(build, "update-1mib", image_size=FLASH)
    run.check_flashed()
    s = run.summary
    chunks = (FLASH + CHUNK - 1) // CHUNK
    check(s["bytes_stored"] == FLASH, "stored %d bytes" % s["bytes_stored"])
    check(s["chunks"] == chunks and s["last_chunks"] == 1,
          "chunks %d (last %d), expected %d" % (s["chunks"], s["last_chunks"], chunks))
    check(s["erase_commands"] == 1 and s["byes"] == 1, "erase %d, bye %d" %
          (s["erase_commands"], s["byes"]))
    check(s["verifies"] == 0, "verify sent to a device that did not announce it")
    check(s["faults_fired"] == 0 and not s["panicked"], "the device saw a fault")
    check(s["final_mode"] == "left", "device did not leave: %s" % s["final_mode"])
    check_erased_whole_flash(run)
    check(s["limit_physical_ms"] > 0, "no physical limit in the summary")
    # the quirk's version, not bcdDevice 0x0200
    before = run.result["before"][0]
    check(before["Version"] == "1.0.0", "version shown is %r" % before["Version"])
    check("not a valid bcd" not in run.install_stderr(),
          "the quirk's version was parsed as BCD:\n" + run.install_stderr()[-2000:])


def case_verify(build):
    run = cobs_run(build, "verify", image_size=100000, extra=["--cobs-verify", "yes"])
    run.check_flashed()
    s = run.summary
    check(s["verifies"] == 1 and s["byes"] == 1, "verify %d, bye %d" % (s["verifies"], s["byes"]))


def case_verify_corrupt(build):
    run = cobs_run(build, "verify-corrupt", image_size=100000,
                   extra=["--cobs-verify", "yes", "--cobs-corrupt-write", "50"])
    run.check_failed("verification failed", "CRC-32")
    check(run.summary["verifies"] == 1, "no verify was sent")
    check_no_bye(run)


def case_corrupt_unverified(build):
    # the seed protocol cannot see it: the update "succeeds" with a wrong byte in flash
    run = cobs_run(build, "corrupt-unverified", extra=["--cobs-corrupt-write", "3"])
    inst = run.result.get("install", {})
    check(inst.get("rc") == 0, "install failed:\n" + run.install_stderr()[-2000:])
    check(run.flash()[:0x4000] != run.read(run.image), "the corruption did not happen")


def case_no_ack_erase(build):
    run = cobs_run(build, "no-ack-erase", extra=["--cobs-no-ack", "1"])
    run.check_failed("no reply to erase within")
    check(run.summary["chunks"] == 0, "chunks were sent without the erase's ACK")
    check_no_bye(run)


# replies are read several at once and carry no sequence number: the host takes them in the
# order it asked for them, but two reads asked for together can reach the bus the other way
# round, so an error about a reply names the chunk within the margin it states
READ_MARGIN = 3


def check_reply_error(run, what, chunk, *needles):
    run.check_failed(*needles)
    err = run.install_stderr()
    found = re.search(r"%s write chunk (\d+) of" % what, err)
    check(found is not None, "no chunk named: %s" % err)
    named = int(found.group(1))
    if named != chunk:
        check(abs(named - chunk) <= READ_MARGIN and
              "may be up to %d off" % READ_MARGIN in err,
              "chunk %d named for chunk %d without the margin: %s" % (named, chunk, err))


def case_no_ack(build):
    # with one chunk queued a lost ACK is taken for the one before it: the ACKs carry no
    # sequence number, so the host sees the loss only when the last reply never comes
    run = cobs_run(build, "no-ack", extra=["--cobs-no-ack", "10"])
    chunks = (0x4000 + CHUNK - 1) // CHUNK
    check_reply_error(run, "no reply to", chunks, "no reply to write chunk")
    check(len(messages(run, "no-ack")) == 1, "the fault did not fire")
    check_no_bye(run)


def case_no_ack_last(build):
    # the ACK of the last chunk: nothing is queued behind it
    chunks = (0x4000 + CHUNK - 1) // CHUNK
    run = cobs_run(build, "no-ack-last", extra=["--cobs-no-ack", str(chunks + 1)])
    check_reply_error(run, "no reply to", chunks, "no reply to write chunk")
    check_no_bye(run)


def case_no_ack_always(build):
    run = cobs_run(build, "no-ack-always", extra=["--cobs-no-ack", "always"])
    run.check_failed("no reply to erase within")
    check_no_bye(run)


def case_wrong_ack(build):
    run = cobs_run(build, "wrong-ack", extra=["--cobs-wrong-ack", "7"])
    check_reply_error(run, "answered", 6, "15 00")
    check_no_bye(run)


def case_late_ack_within(build):
    # 100 ms late is within the 250 ms slack: the update goes on
    run = cobs_run(build, "late-ack-within", extra=["--cobs-late-ack", "20:100"])
    run.check_flashed()
    check(len(messages(run, "late-ack")) == 1, "the fault did not fire")


def case_late_ack_beyond(build):
    run = cobs_run(build, "late-ack-beyond", extra=["--cobs-late-ack", "20:3000"])
    check_reply_error(run, "no reply to", 19, "no reply to write chunk")
    check_no_bye(run)


def case_garbage(build):
    run = cobs_run(build, "garbage", extra=["--cobs-garbage", "30"])
    check_reply_error(run, "garbage in reply to", 29, "garbage in reply to write chunk")
    check_no_bye(run)


def case_disconnect(build):
    run = cobs_run(build, "disconnect", extra=["--cobs-disconnect-after", "100"])
    run.check_failed("disconnected during write chunk")
    check(run.summary["unplugged"], "the device did not leave the bus")
    check(run.summary["messages"] == 100, "device took %d messages" % run.summary["messages"])
    check_no_bye(run)


def case_too_large(build):
    run = cobs_run(build, "too-large", image_size=FLASH + 1)
    run.check_failed("this firmware is not for this device")
    check(run.summary["messages"] == 0, "something was sent to the device")


CASES = {
    "update-1mib": case_update_1mib,
    "verify": case_verify,
    "verify-corrupt": case_verify_corrupt,
    "corrupt-unverified": case_corrupt_unverified,
    "no-ack-erase": case_no_ack_erase,
    "no-ack": case_no_ack,
    "no-ack-last": case_no_ack_last,
    "no-ack-always": case_no_ack_always,
    "wrong-ack": case_wrong_ack,
    "late-ack-within": case_late_ack_within,
    "late-ack-beyond": case_late_ack_beyond,
    "garbage": case_garbage,
    "disconnect": case_disconnect,
    "too-large": case_too_large,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("case", choices=sorted(CASES))
    args = parser.parse_args()
    try:
        CASES[args.case](args.build)
    except Failure as e:
        print("FAIL %s: %s" % (args.case, e), file=sys.stderr)
        return 1
    print("ok %s" % args.case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
