#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""End-to-end tests of the cobs plugin: Debian's fwupdtool, loading our module from the build
tree, updates the simulated STM32H7 COBS bootloader (tests/usbsim, profile stm32h7-cobs).

  test_cobs.py --build BUILD CASE

The model runs at a small time scale, and the plugin gets the same scale through a per-run
quirk (the flash figures shrink alike). The reply slack and the waits for the device to leave
and come back after bye are not scaled: they cover the emulation's own latency, which no time
scale shrinks. Each misbehaviour must end in a clear
error, without the harness having to kill anything, and without bye being sent.
"""

import json
import os
import re
import struct
import subprocess
import sys

from e2e_common import TOP, Run, run_case_cli, check

SCALE = 0.02
FLASH = 0x100000
SECTOR = 0x20000
CHUNK = 61

# the plugin's figures for the simulated device at the model's time scale
SCALED_QUIRK = """[USB\\VID_1209&PID_0020]
CobsSectorEraseTime = %d
CobsWordProgramTime = %d
CobsReplyTimeout = 250
CobsResetTimeout = 300
CobsReturnTimeout = 1500
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


# replies are read four at once and carry no sequence number: a read's reply can be passed by
# those of the three reads after it or of three before it that started late, so an error about
# a reply names the chunk within the margin it states
READ_MARGIN = 6


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


def check_reply_fault(build, name, extra, what, chunk, *needles):
    """A fault in the replies to write chunks that ends the update: its error names the chunk
    (check_reply_error), and no bye follows."""
    run = cobs_run(build, name, extra=extra)
    check_reply_error(run, what, chunk, *needles)
    check_no_bye(run)


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
    check_reply_fault(build, "no-ack-last", ["--cobs-no-ack", str(chunks + 1)], "no reply to",
                      chunks, "no reply to write chunk")


def case_no_ack_always(build):
    run = cobs_run(build, "no-ack-always", extra=["--cobs-no-ack", "always"])
    run.check_failed("no reply to erase within")
    check_no_bye(run)


def case_wrong_ack(build):
    check_reply_fault(build, "wrong-ack", ["--cobs-wrong-ack", "7"], "answered", 6, "15 00")


def case_late_ack_within(build):
    # 100 ms late is within the 250 ms slack: the update goes on
    run = cobs_run(build, "late-ack-within", extra=["--cobs-late-ack", "20:100"])
    run.check_flashed()
    check(len(messages(run, "late-ack")) == 1, "the fault did not fire")


def case_late_ack_beyond(build):
    check_reply_fault(build, "late-ack-beyond", ["--cobs-late-ack", "20:3000"], "no reply to", 19,
                      "no reply to write chunk")


def case_garbage(build):
    check_reply_fault(build, "garbage", ["--cobs-garbage", "30"], "garbage in reply to", 29,
                      "garbage in reply to write chunk")


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


# the endings: one 128 KiB sector of flash keeps each run short
SMALL_FLASH = 0x20000
ENDING_QUIRK = SCALED_QUIRK + """FirmwareSizeMax = 0x20000
"""
RUN_FWUPDTOOL = os.path.join(TOP, "tests", "run-fwupdtool")
MAKE_CABINET = os.path.join(TOP, "contrib", "make-cabinet")
VERSION_OFFSET = 0x20


def fwupdtool_session(run, cab, sim_extra, flash_in, listing, log=None):
    """One usbsim-run session: with a cabinet, fwupdtool install as fwupdmgr installs it (the
    version check included), then the devices as the user lists them next; without, the
    listing alone. Returns the harness's exit status (fwupdtool install's)."""
    if log:
        script = ('"$0" "$1" install "$2" --force --plugins cobs >"$3" 2>&1; rc=$?; '
                  '"$0" "$1" get-devices --json --plugins cobs >"$4" 2>/dev/null; exit $rc')
        args = [RUN_FWUPDTOOL, run.build, cab, log, listing]
    else:
        script = '"$0" "$1" get-devices --json --plugins cobs >"$2" 2>/dev/null'
        args = [RUN_FWUPDTOOL, run.build, listing]
    cmd = [os.path.join(run.build, "tests", "usbsim", "usbsim-run"), "--profile", "stm32h7-cobs",
           "--flash-size", str(SMALL_FLASH), "--flash-in", flash_in,
           "--flash-out", run.flash_out, "--trace", run.trace, "--time-scale", str(SCALE),
           "--timeout", "150"] + sim_extra + ["--", "/bin/sh", "-c", script] + args
    env = dict(os.environ, FWUPD_TEST_STATE_DIR=os.path.join(run.dir, "fwupd"),
               FWUPD_TEST_EXTRA_QUIRKS=run.quirk_file)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    check(proc.returncode != 124, "the client hung and the harness killed it")
    with open(run.trace, encoding="utf-8") as f:
        run.summary = [json.loads(line) for line in f if '"summary"' in line][-1]
    return proc.returncode


def listed_versions(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    devices = json.loads(text[text.find("{"):]).get("Devices", []) if "{" in text else []
    return [d.get("Version") for d in devices if d.get("Plugin") == "cobs"]


def ending_run(build, name, sim_extra, version_word=None, replug_word=None):
    """A 1.0.0 -> 1.2.0 cabinet update of the simulated bootloader with the given ending, the
    listing right after, and a replug: a fresh device (the bootloader, holding what the
    update left) listed by a fresh fwupdtool on the same state directory."""
    run = Run(build, name, profile="stm32h7-cobs", image_size=20000, file_format="bin",
              quirks=ENDING_QUIRK, plugin="cobs", time_scale=str(SCALE))
    if version_word is not None:
        with open(run.image, "r+b") as f:
            f.seek(VERSION_OFFSET)
            f.write(struct.pack("<I", version_word))
    cab = os.path.join(run.dir, "firmware.cab")
    proc = subprocess.run(["/usr/bin/python3", MAKE_CABINET, run.image, "--out", cab, "--id",
                           "org.usbsim.cobs.firmware", "--name", "Simulated STM32H7",
                           "--instance-id", "USB\\VID_1209&PID_0020", "--protocol", "cobs",
                           "--version", "1.2.0", "--release-notes", "test", "-q"],
                          capture_output=True, text=True)
    check(proc.returncode == 0, "make-cabinet failed:\n" + proc.stderr)
    log = os.path.join(run.dir, "install.log")
    after = os.path.join(run.dir, "after.json")
    run.rc = fwupdtool_session(run, cab, sim_extra, run.flash_in, after, log)
    with open(log, encoding="utf-8") as f:
        # without the progress lines
        run.install_log = "".join(line for line in f if "\u2026: " not in line)
    run.after_versions = listed_versions(after)
    run.install_summary = run.summary
    # the replug: the bootloader again with what the update left in its flash
    replug_in = os.path.join(run.dir, "flash-replug.bin")
    with open(run.flash_out, "rb") as f:
        flash = bytearray(f.read())
    if replug_word is not None:
        flash[VERSION_OFFSET:VERSION_OFFSET + 4] = struct.pack("<I", replug_word)
    with open(replug_in, "wb") as f:
        f.write(flash)
    replug_extra = ["--cobs-version-query", "yes"] if "--cobs-version-query" in sim_extra else []
    replug_json = os.path.join(run.dir, "replug.json")
    saved_out = run.flash_out
    run.flash_out = os.path.join(run.dir, "flash-replug-out.bin")
    fwupdtool_session(run, None, replug_extra, replug_in, replug_json)
    run.flash_out = saved_out
    run.replug_versions = listed_versions(replug_json)
    run.summary = run.install_summary
    return run


def check_ending_done(run, after_versions, read_back=True):
    check(run.rc == 0, "fwupdtool install failed (%d):\n%s" % (run.rc, run.install_log[-3000:]))
    image = run.read(run.image)
    check(run.flash()[:len(image)] == image, "flash does not hold the image byte-exact")
    check(run.summary["byes"] == 1, "bye %d" % run.summary["byes"])
    not_read = "its version was not read back" in run.install_log
    check(not_read != read_back, "the install %s say the version was not read back:\n%s" %
          ("did not" if not read_back else "should not", run.install_log[-3000:]))
    check(run.after_versions == after_versions, "listed after the install at %s, not %s" %
          (run.after_versions, after_versions))
    check(run.replug_versions == ["1.2.0"], "listed after a replug at %s, not 1.2.0" %
          run.replug_versions)


def case_after_bye_stay(build):
    run = ending_run(build, "after-bye-stay", ["--cobs-after-bye", "stay"])
    check_ending_done(run, ["1.2.0"])
    check(run.summary["resets"] == 0, "the device reset")


def case_after_bye_bootloader(build):
    run = ending_run(build, "after-bye-bootloader", ["--cobs-after-bye", "bootloader"])
    check_ending_done(run, ["1.2.0"])
    check(run.summary["resets"] == 1, "the device did not reset")
    check("failed to reload" not in run.install_log, run.install_log[-3000:])


def case_after_bye_app(build):
    # the application has other IDs: no device of this plugin is listed after the install
    run = ending_run(build, "after-bye-app", ["--cobs-after-bye", "app"])
    check_ending_done(run, [], read_back=False)
    check(run.summary["final_mode"] == "application", "final mode %s" %
          run.summary["final_mode"])
    check("restarted as USB 1209:0021" in run.install_log, run.install_log[-3000:])


def case_after_bye_gone(build):
    run = ending_run(build, "after-bye-gone", ["--cobs-after-bye", "gone"])
    check_ending_done(run, [], read_back=False)
    check(run.summary["unplugged"], "the device did not leave the bus")
    check("nothing came back" in run.install_log, run.install_log[-3000:])


def case_version_query(build):
    # the device reads the version word of the image it holds; at the replug its flash says
    # 1.3.0 (put there by some other tool): the query, not what the plugin wrote, is shown
    run = ending_run(build, "version-query",
                     ["--cobs-after-bye", "bootloader", "--cobs-version-query", "yes"],
                     version_word=0x01020000, replug_word=0x01030000)
    check(run.rc == 0, "fwupdtool install failed (%d):\n%s" % (run.rc, run.install_log[-3000:]))
    check(run.summary["version_queries"] >= 1, "the device was never asked its version")
    check(run.after_versions == ["1.2.0"], "listed after at %s" % run.after_versions)
    check(run.replug_versions == ["1.3.0"], "listed after a replug at %s, not the 1.3.0 the "
          "device holds" % run.replug_versions)


def case_refused_image(build):
    # the bootloader came back and says it holds no image it would start (all ones): the
    # update failed, whatever every ACK said
    run = ending_run(build, "refused-image",
                     ["--cobs-after-bye", "bootloader", "--cobs-version-query", "yes"],
                     version_word=0xFFFFFFFF)
    check(run.rc != 0, "the install succeeded on a device that refused the image")
    check("holds no image it would start" in run.install_log, run.install_log[-3000:])
    check(run.summary["version_queries"] >= 1, "the device was never asked its version")


def case_nak_bye(build):
    # a bootloader that refuses to start the image answers bye with NAK and stays
    chunks = (20000 + CHUNK - 1) // CHUNK
    run = ending_run(build, "nak-bye", ["--cobs-after-bye", "bootloader",
                                        "--cobs-wrong-ack", str(chunks + 2)])
    check(run.rc != 0, "the install succeeded on a refused bye")
    check("answered bye with [15 00]" in run.install_log, run.install_log[-3000:])
    check(run.summary["resets"] == 0, "the device reset")


def ack_run(build, mode):
    run = cobs_run(build, "ack-" + mode, image_size=0x8000,
                   extra=["--cobs-ack", mode])
    run.check_flashed()
    s = run.summary
    check(s["ack_mode"] == mode, "the device's ACK mode is %s" % s["ack_mode"])
    # every reply read; each alone, or packed: fewer IN transfers than replies, as the
    # plugin keeps chunks queued while replies wait
    check(s["replies_taken"] == s["messages"], "%d replies read of %d messages" %
          (s["replies_taken"], s["messages"]))
    if mode == "each":
        check(s["reply_transfers"] == s["replies_taken"], "replies went together")
    else:
        check(s["reply_transfers"] < s["replies_taken"], "no replies went together")
    return run


def case_ack_each(build):
    ack_run(build, "each")


def case_ack_pack(build):
    ack_run(build, "pack")


# hostile devices (docs/reliability.md, "Hostile devices"): each ends updated byte-exact or in
# a clear error, within the harness's bound, with nothing written outside the image

def hostile_run(build, name, extra, image_size=0x4000):
    run = cobs_run(build, name, image_size=image_size, extra=extra)
    check(run.summary, "the simulator wrote no summary")
    run.check_writes_inside_image()
    return run


# ACKs carry no sequence number: an ACK answering no message shifts every reply after it by
# one, so the host takes a chunk's ACK for bye's; the device's own reply to bye then comes
# after it, and the update fails instead of reporting what the device did not acknowledge
AFTER_BYE = "after its reply to bye"


def case_unsolicited_ack_power_on(build):
    # an ACK the device holds before any message is read and dropped before erase
    run = hostile_run(build, "unsolicited-ack-power-on", ["--cobs-unsolicited-ack", "0"])
    run.check_flashed()
    check(run.summary["extra_replies"] == 1, "the device sent no ACK of its own")


def reply_too_many(name, extra, not_sent):
    """A case of one reply more than the messages sent (not_sent: the failure when the device
    did not send it), found at bye."""
    def run_case(build):
        run = hostile_run(build, name, extra)
        run.check_failed(AFTER_BYE, "more replies than")
        check(run.summary["extra_replies"] == 1, not_sent)
    return run_case


def case_unsolicited_ack_verify(build):
    # the device's CRC reply comes one later than the host expects it: verify is answered
    # with the last chunk's ACK, and bye is not sent
    run = hostile_run(build, "unsolicited-ack-verify",
                      ["--cobs-unsolicited-ack", "1", "--cobs-verify", "yes"])
    run.check_failed("answered verify with [06 00]", "more ACKs than")
    check_no_bye(run)


def case_unsolicited_ack_nak(build):
    # two ACKs of its own after erase, then the last chunk refused: the host, two replies
    # ahead, takes the ACK of the chunk before last for bye's; the refusal comes after it
    chunks = (0x4000 + CHUNK - 1) // CHUNK
    run = hostile_run(build, "unsolicited-ack-nak",
                      ["--cobs-unsolicited-ack", "1:2", "--cobs-wrong-ack", str(chunks + 1)])
    run.check_failed(AFTER_BYE, "[15 00]")
    check(len(messages(run, "wrong-ack")) == 1, "the device did not refuse the last chunk")


def case_double_ack_verify(build):
    run = hostile_run(build, "double-ack-verify",
                      ["--cobs-double-ack", "10", "--cobs-verify", "yes"])
    run.check_failed("answered verify with [06 00]")
    check_no_bye(run)


def check_stream_from_power_on(build, name, extra):
    """A device that sends from power-on, forever: more than an earlier update can have left,
    so nothing is sent, not even erase."""
    run = hostile_run(build, name, extra)
    run.check_failed("keeps sending")
    check(run.summary["messages"] == 0, "%d messages sent" % run.summary["messages"])
    run.check_untouched()


def case_ack_stream_power_on(build):
    check_stream_from_power_on(build, "ack-stream-power-on", ["--cobs-ack-stream", "0"])


def check_failed_any(run, needles):
    run.check_failed()
    err = run.install_stderr()
    check(any(n in err for n in needles), "error names none of %r:\n%s" % (needles, err))


# where the ACKs of a stream fall among the real replies is up to the bus: the host sees one
# of these, and each fails the update
STREAM_ERRORS = [
    AFTER_BYE,  # bye's reply was one of the stream's
    "it sent ACKs for messages it never took",  # the replies ran ahead of the chunks taken
    "instead of ACK [06 00]",  # the erase's own reply came among the chunks'
    "answered verify with [06 00]",  # a stream's ACK where the CRC was due
]


def case_ack_stream(build):
    # ACKs forever once erase is answered: every message seems answered at once
    run = hostile_run(build, "ack-stream", ["--cobs-ack-stream", "1"])
    check_failed_any(run, STREAM_ERRORS)
    check(run.summary["stream_transfers"] > 0, "no ACK of the stream was read")


def case_ack_stream_verify(build):
    run = hostile_run(build, "ack-stream-verify",
                      ["--cobs-ack-stream", "1", "--cobs-verify", "yes"])
    check_failed_any(run, STREAM_ERRORS)
    check_no_bye(run)


def case_split_ack(build):
    # a reply a byte an IN transfer is still the reply: CDC is a byte stream
    run = hostile_run(build, "split-ack", ["--cobs-split-ack", "--cobs-verify", "yes"],
                      image_size=0x2000)
    run.check_flashed()
    s = run.summary
    check(s["split_replies"] and s["verifies"] == 1, "verify %d" % s["verifies"])
    check(s["reply_transfers"] > s["replies_taken"], "the replies were not split")


def verify_reply_run(build, mode):
    run = hostile_run(build, "verify-reply-" + mode,
                      ["--cobs-verify", "yes", "--cobs-verify-reply", mode])
    check(run.summary["verifies"] == 1, "no verify was sent")
    check_no_bye(run)
    return run


def case_verify_reply_short(build):
    verify_reply_run(build, "short").check_failed("answered verify with",
                                                  "a CRC reply of 8 bytes, not 9")


def case_verify_reply_long(build):
    verify_reply_run(build, "long").check_failed("answered verify with",
                                                 "a CRC reply of 10 bytes, not 9")


def case_verify_count_over_image(build):
    verify_reply_run(build, "count-over-image").check_failed(
        "verification failed", "stored %d bytes, the image is %d" % (0x4000 + CHUNK, 0x4000))


def case_verify_count_over_flash(build):
    verify_reply_run(build, "count-over-flash").check_failed(
        "verification failed", "4294967295 bytes", "more than its flash")


def case_garbage_stream_power_on(build):
    check_stream_from_power_on(build, "garbage-stream-power-on", ["--cobs-garbage-stream", "0"])


def case_garbage_stream(build):
    run = hostile_run(build, "garbage-stream", ["--cobs-garbage-stream", "1"])
    run.check_failed("garbage in reply to", "no end marker within 64 bytes")
    check_no_bye(run)


CASES = {
    "after-bye-stay": case_after_bye_stay,
    "after-bye-bootloader": case_after_bye_bootloader,
    "after-bye-app": case_after_bye_app,
    "after-bye-gone": case_after_bye_gone,
    "version-query": case_version_query,
    "refused-image": case_refused_image,
    "nak-bye": case_nak_bye,
    "ack-each": case_ack_each,
    "ack-pack": case_ack_pack,
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
    "unsolicited-ack-power-on": case_unsolicited_ack_power_on,
    "unsolicited-ack": reply_too_many("unsolicited-ack", ["--cobs-unsolicited-ack", "1"],
                                      "the device sent no ACK of its own"),
    "unsolicited-ack-verify": case_unsolicited_ack_verify,
    "unsolicited-ack-nak": case_unsolicited_ack_nak,
    "double-ack": reply_too_many("double-ack", ["--cobs-double-ack", "10"],
                                 "the device did not answer twice"),
    "double-ack-verify": case_double_ack_verify,
    "ack-stream-power-on": case_ack_stream_power_on,
    "ack-stream": case_ack_stream,
    "ack-stream-verify": case_ack_stream_verify,
    "split-ack": case_split_ack,
    "verify-reply-short": case_verify_reply_short,
    "verify-reply-long": case_verify_reply_long,
    "verify-count-over-image": case_verify_count_over_image,
    "verify-count-over-flash": case_verify_count_over_flash,
    "garbage-stream-power-on": case_garbage_stream_power_on,
    "garbage-stream": case_garbage_stream,
}


def main():
    return run_case_cli(CASES)


if __name__ == "__main__":
    sys.exit(main())
