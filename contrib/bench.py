#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Flashes the same image into the same simulated device with our plugin (through Debian's
real fwupdtool) and with each peer that can drive it, in interleaved rounds, at the device's
real speed (time scale 1.0), and reports the median time of each against the limits the
simulator computed for the exact run it served (tests/usbsim/README.md): physical, and
spec-compliant (every reported poll timeout obeyed, one status read an operation). On the DFU
and DfuSe models it also reports the obeying host: a host with no latency that waits each poll
timeout exactly and reads the status until the operation is done, as the protocol requires (two
reads an operation, three where the device reports less than it takes). A host can beat it only
by not waiting what the device asked for.

The time of a run is the span the device saw: from the first request of the update to the
last before the image is read back (dfu-util does not read back; our plugin and fwupd's do,
and that time is reported apart), so that tool start-up and enumeration do not blur the
protocol's own cost. On the nRF Secure DFU models it ends at the reply to the last execute
(run_one_nrf).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
from e2e_common import dfuse_file, filler, profiles  # noqa: E402
from test_nordic import MAKE_PACKAGE  # noqa: E402

BUILD = os.path.join(TOP, "build")
USBSIM = os.path.join(BUILD, "tests", "usbsim", "usbsim-run")
USBSIM_NRF = os.path.join(BUILD, "tests", "usbsim", "usbsim-nrf-run")
CLIENT = os.path.join(TOP, "tests", "e2e", "fwupd_client.py")
NRF_DFU_JS = os.path.join(TOP, "tests", "usbsim", "nrf-dfu-js-client.js")
NRF_DFU_JS_MODULES = os.path.join(TOP, ".cache", "npm", "pc-nrf-dfu-js", "node_modules")
KIB = 1024

# profile: the image sizes and the simulator's options; the device's IDs, kind and addresses
# come from the model (usbsim-run --list-profiles --json). All start in DFU mode so that every
# tool does the same work
DFU_PROFILES = {
    # the STM32F4 system bootloader (fwupd issue 2696) reports a bogus 104 ms after SET_ADDRESS
    "stm32f4-dfuse": {"sizes": [64 * KIB, 256 * KIB], "sim": ["--bogus-set-address-timeout"]},
    # images fill the flash: fwupd's dfu plugin reads back the whole flash and refuses a
    # read-back longer than the image
    "stm32f1-dfu": {"sizes": [64 * KIB]},
    # the 64 KiB GD32VF103C8 (the images fill the flash, see above)
    "gd32vf103-dfu": {"sizes": [64 * KIB], "sim": ["--flash-size", str(64 * KIB)]},
    "stm32f1-dfuse": {"sizes": [64 * KIB]},
    "gd32vf103-dfuse": {"sizes": [64 * KIB]},
}
# COBS bulk bootloader (plugins/cobs/README.md): no other host tool drives it, so our plugin
# runs alone against the model's physical limit (the protocol has no poll timeouts: the
# spec-compliant limit is the same). CDC is a byte stream: the model sends each reply in an IN
# transfer of its own by default (stm32h7-cobs), or packs the replies waiting into one
# (stm32h7-cobs-ack-pack); a host must reach the device's speed with either.
COBS_PROFILES = {
    "stm32h7-cobs": {"sizes": [1024 * KIB], "sim": ["--cobs-ack", "each"]},
    "stm32h7-cobs-ack-pack": {"sizes": [1024 * KIB], "sim": ["--cobs-ack", "pack"]},
}
# nRF5 SDK Secure DFU (usbsim-nrf-run): our nordic_dfu plugin, and Nordic's pc-nrf-dfu-js
# 0.2.12 (installed by contrib/setup) where it can drive the model. The protocol has no poll
# timeouts: the spec-compliant limit is the physical one. The application bank holds 740 KiB
# (0x27000 to the bootloader at 0xE0000), so 1 MiB does not fit either profile; the UART at
# 115200 baud moves about 9 KiB/s (7.8 s for 64 KiB), so it takes only the smallest image
# to keep the whole default run near 15 minutes.
NRF_PROFILES = {
    # pc-nrf-dfu-js cannot drive the simulated Dongle: its USB transport
    # (DfuTransportUsbSerial) finds the Dongle's tty by serial number through serialport, and
    # the simulator serves the Dongle as a raw USB device (bulk transfers on usbfs, as fwupd
    # talks to it) with no cdc_acm tty, so serialport lists no port at all. On real hardware
    # that transport also sleeps 2 s after each image (its DfuTransportUsbSerial).
    "nrf52840-dongle": {"sizes": [64 * KIB, 256 * KIB], "peers": []},
    # the UART behind a J-Link CDC port: a tty backed by a pty, which both tools open
    "nrf52-uart": {"sizes": [64 * KIB], "peers": ["pc-nrf-dfu-js"]},
}
# where no peer takes part, the printed output says why
NO_PEER = {
    "stm32h7-cobs": "no peer tool drives this bootloader; our plugin runs alone.",
    "stm32h7-cobs-ack-pack": "no peer tool drives this bootloader; our plugin runs alone.",
    "nrf52840-dongle": "pc-nrf-dfu-js finds no serial port: the simulated Dongle is a raw USB "
                       "device without a cdc_acm tty (its USB transport would also sleep 2 s "
                       "an image); our plugin runs alone, pc-nrf-dfu-js runs on nrf52-uart.",
}
# fwupd's dfu plugin misses the functional descriptor where DFU 1.1 puts it and falls back
# to 64-byte blocks on the STM32F4 model: over 100 s for 64 KiB, so only there
SLOW_PEERS = {("fwupd-dfu", "stm32f4-dfuse"): [64 * KIB]}
# fwupd's dfu plugin is the slowest host on every model by far: one round ranks it, and keeps
# the whole run within 15 minutes on 2 cores; our plugin and dfu-util get every round
ONE_ROUND_PEERS = ("fwupd-dfu",)
# peak memory does not depend on time: the comparison runs faster than the device would
MEMORY_TIME_SCALE = 0.1


def run_dir(work, name, size):
    """A fresh directory for one run, with the image it flashes; the paths the run writes."""
    d = tempfile.mkdtemp(prefix=name + "-", dir=work)
    image = filler(size, 0x1234 + size)
    bin_path = os.path.join(d, "image.bin")
    with open(bin_path, "wb") as f:
        f.write(image)
    return (d, image, bin_path, os.path.join(d, "trace.jsonl"),
            os.path.join(d, "flash-out.bin"), os.path.join(d, "result.json"))


def read_run(trace, result, flash_out, keep=lambda rec: True):
    """What one run left: the trace's records that keep() takes and its summary, the client's
    result and the flash; empty where the run wrote nothing."""
    records, summary = [], {}
    if os.path.exists(trace):
        with open(trace, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                if rec.get("summary"):
                    summary = rec
                elif keep(rec):
                    records.append(rec)
    res = {}
    if os.path.exists(result):
        with open(result, encoding="utf-8") as f:
            res = json.load(f)
    flash = b""
    if os.path.exists(flash_out):
        with open(flash_out, "rb") as f:
            flash = f.read()
    return records, summary, res, flash


def run_one_cobs(work, profile, size, time_scale, seed):
    d, image, bin_path, trace, flash_out, result = run_dir(
        work, "%s-cobs-%d" % (profile, size), size)
    sim = [USBSIM, "--profile", "stm32h7-cobs", "--time-scale", str(time_scale), "--seed",
           str(seed), "--trace", trace, "--flash-out", flash_out,
           "--timeout", "900"] + COBS_PROFILES[profile]["sim"]
    client = ["/usr/bin/python3", CLIENT, "--build", BUILD, "--plugin", "cobs", "--install",
              bin_path, "--result", result, "--timeout", "800"]
    env = dict(os.environ, FWUPD_TEST_STATE_DIR=os.path.join(d, "fwupd"))
    proc = subprocess.run(sim + ["--"] + client, env=env, capture_output=True, text=True)
    messages, summary, res, flash = read_run(trace, result, flash_out,
                                             lambda rec: rec.get("event") == "message")
    ok = proc.returncode == 0 and flash[:len(image)] == image
    # the update on the device's timeline: erase arriving to the last reply (bye)
    span_ms = (messages[-1]["done_ms"] - messages[0]["arrival_ms"]) if messages else 0.0
    return {
        "profile": profile, "tool": "cobs", "bytes": size, "seconds": span_ms / 1000.0,
        "verify_seconds": 0.0,
        "limit_seconds": summary.get("limit_physical_ms", 0) / 1000.0,
        "spec_limit_seconds": summary.get("limit_spec_ms", 0) / 1000.0,
        "obeying_host_seconds": summary.get("obeying_host_ms", 0) / 1000.0,
        "host_idle_seconds": summary.get("host_idle_ms", 0) / 1000.0,
        "host_idle_seconds_by_request": {},
        "peak_rss_kib": res.get("peak_rss_kib"), "ok": ok,
        "stderr": proc.stderr[-2000:] if not ok else "",
    }


def nrf_span(records, summary):
    """The update on an nRF model's timeline, from its trace (see run_one_nrf): the start and
    end in ms, or None; the post-activation reset wait in ms; and the host idle the model
    counted outside the span, in ms."""
    requests = sorted((r for r in records if "op" in r), key=lambda r: r["t_ms"])
    init = [r for r in requests if r["request"] in ("select", "create") and r["object"] == 1]
    executes = [r for r in requests if r["request"] == "execute" and r["object"] == 2]
    resets = [r for r in records if r.get("event") == "reset" and r["reason"] == "activated"]
    reset_ms = resets[0]["back_ms"] - resets[0]["t_ms"] if resets else 0.0
    if not init or not executes:
        return None, None, reset_ms, 0.0
    start, end = init[0]["t_ms"], executes[-1]["ready_ms"]
    # the model's rule (usbsim_nrf_receive): idle from when the device last had something to
    # do (an arrival, a reply, or its boot) to when the next bytes started on the wire; the
    # requests outside the span are single frames, each sent after the previous reply
    if "baud_rate" in summary:
        byte_ms = 10.0 * 1000 / summary["baud_rate"] * summary.get("time_scale", 1.0)
    else:
        byte_ms = 1.0 / 1216 * summary.get("time_scale", 1.0)
    outside, busy = 0.0, None
    for rec in sorted((r for r in records if "op" in r or r.get("event") == "boot"),
                      key=lambda r: r["t_ms"]):
        t = rec["t_ms"]
        if "op" in rec:
            if busy is not None and (t <= start or t > end):
                # a frame on the wire: the request, SLIP escapes aside, and its END
                outside += max(0.0, t - (rec["length"] + 1) * byte_ms - busy)
            t = max(t, rec["ready_ms"])
        busy = t if busy is None else max(busy, t)
    return start, end, reset_ms, outside


def run_one_nrf(work, profile, tool, size, time_scale):
    """One update of an application image on the nRF5 SDK Secure DFU model (usbsim-nrf-run),
    by our nordic_dfu plugin in fwupdtool, or by Nordic's pc-nrf-dfu-js over the UART.

    The time is the span the device saw, measured alike for both tools: from the first
    request of the update proper (the select, or else the create, of the init packet's
    command object) to the reply of the last data object's execute, which the device sends
    once the flash holds the whole image and it is validated. So fwupdtool's start-up, its
    probing of the device (ping, HW and FW version, before the update and after it) and
    pc-nrf-dfu-js's PRN and MTU requests (about 5 ms) are left out. Neither tool reads back.
    The simulator's limit adds the reset after the image is activated (the SDK's boot time,
    100 ms at scale 1.0 for an application) to the simulator's limit for the objects; the span
    ends before that reset, which no host can shorten, so it is taken off the limit here.
    Host idle is the model's own count for the session less what it counted at requests
    outside the span (fwupdtool's probing and the gaps between its invocations)."""
    app_start = profiles(BUILD, "usbsim-nrf-run")[profile]["app_start"]
    d, image, bin_path, trace, flash_out, result = run_dir(
        work, "%s-%s-%d" % (profile, tool, size), size)
    # an nrfutil package as pc-nrfutil lays it out; the peer takes its unpacked members
    package = os.path.join(d, "app.zip")
    subprocess.run(["/usr/bin/python3", MAKE_PACKAGE, package, "application=" + bin_path,
                    "--fw-version", "7"], check=True)
    with zipfile.ZipFile(package) as zf:
        zf.extractall(d)
    sim = [USBSIM_NRF, "--profile", profile, "--time-scale", str(time_scale),
           "--trace", trace, "--flash-out", flash_out, "--timeout", "900"]
    env = dict(os.environ, FWUPD_TEST_STATE_DIR=os.path.join(d, "fwupd"))
    if tool == "pc-nrf-dfu-js":
        # PRN 0, as our plugin uses it: no CRC notification between the writes of an object
        client = ["node", NRF_DFU_JS, NRF_DFU_JS_MODULES, "0", os.path.join(d, "app.dat"),
                  os.path.join(d, "app.bin")]
    else:
        client = ["/usr/bin/python3", CLIENT, "--build", BUILD, "--plugin", "nordic_dfu",
                  "--install", package, "--result", result, "--timeout", "800"]
    proc = subprocess.run(sim + ["--"] + client, env=env, capture_output=True, text=True)
    records, summary, res, flash = read_run(trace, result, flash_out)
    start, end, reset_ms, idle_outside_ms = nrf_span(records, summary)
    ok = (proc.returncode == 0 and start is not None and
          flash[app_start:app_start + len(image)] == image and
          summary.get("images_activated") == 1)
    if res.get("install") and res["install"].get("rc") != 0:
        ok = False
    limit_s = max(0.0, summary.get("limit_physical_ms", 0) - reset_ms) / 1000.0
    stderr = proc.stderr
    if not ok and res.get("install"):
        stderr += res["install"].get("stderr", "")
    return {
        "profile": profile, "tool": tool, "bytes": size,
        "seconds": (end - start) / 1000.0 if start is not None else 0.0,
        "verify_seconds": 0.0,
        "limit_seconds": limit_s, "spec_limit_seconds": limit_s,
        "obeying_host_seconds": limit_s,
        "reset_seconds": reset_ms / 1000.0,
        "host_idle_seconds": max(0.0, summary.get("host_idle_ms", 0) - idle_outside_ms) / 1000.0,
        "host_idle_seconds_by_request": {},
        "peak_rss_kib": res.get("peak_rss_kib"), "ok": ok,
        "stderr": stderr[-2000:] if not ok else "",
    }


def run_one(work, profile, tool, size, time_scale, seed):
    if profile in COBS_PROFILES:
        return run_one_cobs(work, profile, size, time_scale, seed)
    if profile in NRF_PROFILES:
        return run_one_nrf(work, profile, tool, size, time_scale)
    spec = DFU_PROFILES[profile]
    model = profiles(BUILD)[profile]
    dfuse = model["family"] == "dfuse"
    # DfuSe images go to where the application starts; files carry the DFU-mode IDs
    address = model["app_address"] if dfuse else 0
    vid, pid = model["vid"], model["dfu_pid"]
    d, image, bin_path, trace, flash_out, result = run_dir(
        work, "%s-%s-%d" % (profile, tool, size), size)
    sim = [USBSIM, "--profile", profile, "--mode", "dfu", "--time-scale", str(time_scale),
           "--seed", str(seed), "--trace", trace, "--flash-out", flash_out,
           "--timeout", "900"] + spec.get("sim", [])
    env = dict(os.environ, FWUPD_TEST_STATE_DIR=os.path.join(d, "fwupd"))
    if dfuse:
        fw = os.path.join(d, "firmware.dfu")
        dfuse_file([(0, "Internal Flash", [(address, image)])], vid, pid, fw)
    else:
        fw = os.path.join(d, "firmware.dfu")
        subprocess.run(["/usr/bin/python3", os.path.join(TOP, "data", "make-sample-firmware.py"),
                        "--size", str(size), "--vid", hex(vid), "--pid", hex(pid),
                        "--out", fw, "--raw-out", bin_path], check=True)
        with open(bin_path, "rb") as f:
            image = f.read()
    if tool == "dfu-util":
        if dfuse:
            client = ["dfu-util", "-a", "0", "-s", "0x%08x" % address, "-D", bin_path]
        else:
            client = ["dfu-util", "-a", "0", "-D", fw]
    else:
        plugin = "dfu_core" if tool == "dfu-core" else "dfu"
        if tool == "fwupd-dfu":
            env["FWUPD_TEST_STOCK"] = "1"
        client = ["/usr/bin/python3", CLIENT, "--build", BUILD, "--plugin", plugin,
                  "--install", fw, "--result", result, "--timeout", "800"]
    proc = subprocess.run(sim + ["--"] + client, env=env, capture_output=True, text=True)
    # the class requests of the DFU interface
    records, summary, res, flash = read_run(
        trace, result, flash_out,
        lambda rec: "request" in rec and rec.get("bmRequestType") in (0x21, 0xA1))
    offset = address - model["flash_base"] if dfuse else 0
    ok = proc.returncode == 0 and flash[offset:offset + len(image)] == image
    if res.get("install") and res["install"].get("rc") != 0:
        ok = False
    # the write ends where the read-back starts (our plugin and fwupd's verify, dfu-util not)
    write = records
    for i, rec in enumerate(records):
        if rec.get("request") == "upload" and rec.get("wValue", 0) >= (2 if dfuse else 0):
            write = records[:i]
            break
    span_ms = (write[-1]["t_ms"] - write[0]["t_ms"]) if write else 0.0
    verify_ms = (records[-1]["t_ms"] - write[-1]["t_ms"]) if write else 0.0
    return {
        "profile": profile, "tool": tool, "bytes": size, "seconds": span_ms / 1000.0,
        "verify_seconds": verify_ms / 1000.0,
        "limit_seconds": summary.get("limit_physical_ms", 0) / 1000.0,
        "spec_limit_seconds": summary.get("limit_spec_ms", 0) / 1000.0,
        "obeying_host_seconds": summary.get("obeying_host_ms", 0) / 1000.0,
        "host_idle_seconds": summary.get("host_idle_ms", 0) / 1000.0,
        # where the device waited for the host, by the request that ended the wait
        "host_idle_seconds_by_request": {
            k: v / 1000.0 for k, v in summary.get("host_idle_ms_by_request", {}).items()},
        "peak_rss_kib": res.get("peak_rss_kib"), "ok": ok,
        "stderr": proc.stderr[-2000:] if not ok else "",
    }


def run_memory(work, time_scale):
    """Peak resident memory of fwupdtool flashing 1 MiB with our plugin and with its built-in
    dfu plugin, on the STM32F4 model with the functional descriptor repeated after every alt
    setting (fwupd's dfu plugin needs it there to use 2 KiB blocks instead of 64 bytes), at
    MEMORY_TIME_SCALE. The image fills the flash: fwupd's plugin then fails its read-back,
    as it asks for one block past the end of the memory, which the device refuses; the write,
    whose memory is compared, is complete by then."""
    saved = DFU_PROFILES["stm32f4-dfuse"]["sim"]
    DFU_PROFILES["stm32f4-dfuse"]["sim"] = saved + ["--func-desc-every-alt"]
    out = []
    try:
        for tool in ("dfu-core", "fwupd-dfu"):
            rec = run_one(work, "stm32f4-dfuse", tool, 1024 * KIB,
                          min(time_scale, MEMORY_TIME_SCALE), seed=1)
            rec["profile"] = "stm32f4-dfuse-every-alt"
            rec["rounds"] = 1
            rec.pop("stderr", None)
            out.append(rec)
            print("memory %-10s peak RSS %s KiB, %.2f s, %s" % (
                tool, rec["peak_rss_kib"], rec["seconds"], "ok" if rec["ok"] else "FAILED"),
                file=sys.stderr)
    finally:
        DFU_PROFILES["stm32f4-dfuse"]["sim"] = saved
    return out


def median_record(runs):
    rec = dict(runs[0])
    for key in ("seconds", "verify_seconds", "limit_seconds", "spec_limit_seconds",
                "obeying_host_seconds", "host_idle_seconds"):
        rec[key] = statistics.median(r[key] for r in runs)
    rss = [r["peak_rss_kib"] for r in runs if r["peak_rss_kib"]]
    rec["peak_rss_kib"] = max(rss) if rss else None
    rec["host_idle_seconds_by_request"] = {
        k: statistics.median(r["host_idle_seconds_by_request"].get(k, 0.0) for r in runs)
        for k in runs[0]["host_idle_seconds_by_request"]}
    rec["ok"] = all(r["ok"] for r in runs)
    rec["rounds"] = len(runs)
    rec.pop("stderr", None)
    return rec


def plan(args):
    jobs = []
    for profile, spec in DFU_PROFILES.items():
        if args.profile and profile not in args.profile:
            continue
        sizes = spec["sizes"][:1] if args.quick else spec["sizes"]
        for size in sizes:
            for tool in ("dfu-core", "dfu-util", "fwupd-dfu"):
                if args.tool and tool not in args.tool:
                    continue
                slow = SLOW_PEERS.get((tool, profile))
                rounds = 1 if tool in ONE_ROUND_PEERS else args.rounds
                if slow is not None:
                    if size not in slow or args.quick:
                        continue
                    rounds = 1
                jobs.append((profile, size, tool, rounds))
    for profile, spec in COBS_PROFILES.items():
        if args.profile and profile not in args.profile:
            continue
        if args.tool and "cobs" not in args.tool:
            continue
        # about 45 s a run at time scale 1.0: left out of --quick
        if args.quick and not args.profile:
            continue
        for size in spec["sizes"]:
            jobs.append((profile, size, "cobs", args.rounds))
    for profile, spec in NRF_PROFILES.items():
        if args.profile and profile not in args.profile:
            continue
        sizes = spec["sizes"][:1] if args.quick else spec["sizes"]
        for size in sizes:
            for tool in ["nordic-dfu"] + spec["peers"]:
                if args.tool and tool not in args.tool:
                    continue
                jobs.append((profile, size, tool, args.rounds))
    return jobs


def svg_plot(records, path):
    """Throughput of each tool as bars, per profile and size, the limits as marks."""
    rows = [r for r in records if r["seconds"] > 0]
    width, bar_h, gap, left = 900, 14, 10, 260
    groups = {}
    for r in rows:
        groups.setdefault((r["profile"], r["bytes"]), []).append(r)
    height = 40 + sum(len(v) * bar_h + gap for v in groups.values())
    top = max(r["bytes"] / 1024 / r["seconds"] for r in rows) if rows else 1
    for r in rows:
        if r["limit_seconds"]:
            top = max(top, r["bytes"] / 1024 / r["limit_seconds"])
    scale = (width - left - 120) / top
    colours = {"dfu-core": "#2a7", "cobs": "#2a7", "nordic-dfu": "#2a7", "dfu-util": "#27a",
               "fwupd-dfu": "#a72", "pc-nrf-dfu-js": "#a27"}
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="11">' % (width, height),
           '<text x="10" y="18" font-size="13">Throughput, KiB/s (marks: spec-compliant '
           'limit | and physical limit ||)</text>']
    y = 34
    for (profile, size), runs in groups.items():
        for r in runs:
            kibs = r["bytes"] / 1024 / r["seconds"]
            out.append('<text x="10" y="%d">%s %d KiB %s</text>' %
                       (y + 11, profile, size // 1024, r["tool"]))
            out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>' %
                       (left, y, kibs * scale, bar_h - 2, colours.get(r["tool"], "#777")))
            out.append('<text x="%.1f" y="%d">%.1f</text>' % (left + kibs * scale + 4, y + 11,
                                                              kibs))
            for key, w in (("spec_limit_seconds", 1), ("limit_seconds", 3)):
                if r[key]:
                    x = left + r["bytes"] / 1024 / r[key] * scale
                    out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#000" '
                               'stroke-width="%d"/>' % (x, x, y - 1, y + bar_h - 1, w))
            y += bar_h
        y += gap
    out.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


def markdown(records):
    lines = ["| profile | KiB | tool | seconds (median) | spec limit s | physical limit s | "
             "of spec limit | of physical limit | of obeying host | host idle s | "
             "peak RSS KiB | rounds | ok |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        spec_ratio = r["spec_limit_seconds"] / r["seconds"] if r["seconds"] else 0
        phys_ratio = r["limit_seconds"] / r["seconds"] if r["seconds"] else 0
        obeying_ratio = r["obeying_host_seconds"] / r["seconds"] if r["seconds"] else 0
        lines.append("| %s | %d | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %d "
                     "| %s |" % (
                         r["profile"], r["bytes"] // 1024, r["tool"], r["seconds"],
                         r["spec_limit_seconds"], r["limit_seconds"], spec_ratio, phys_ratio,
                         obeying_ratio, r["host_idle_seconds"], r["peak_rss_kib"] or "-",
                         r["rounds"], "yes" if r["ok"] else "NO"))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--profile", action="append", help="only this profile (repeatable)")
    parser.add_argument("--tool", action="append", help="only this tool (repeatable)")
    parser.add_argument("--quick", action="store_true",
                        help="the smallest image of each profile, no slow peers")
    parser.add_argument("--memory", action="store_true",
                        help="also compare fwupdtool's peak memory flashing 1 MiB with our "
                             "plugin and with its built-in dfu plugin")
    parser.add_argument("--json", help="write the records here")
    parser.add_argument("--plot", help="write an SVG plot here")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="bench-", dir=BUILD)
    jobs = plan(args)
    runs = {}
    # interleaved: round 1 of every tool, then round 2, so that drift hits all alike
    for rnd in range(max((j[3] for j in jobs), default=0)):
        for profile, size, tool, rounds in jobs:
            if rnd >= rounds:
                continue
            rec = run_one(work, profile, tool, size, args.time_scale, seed=1 + rnd)
            runs.setdefault((profile, size, tool), []).append(rec)
            print("round %d %-16s %4d KiB %-10s %7.2f s  %s" % (
                rnd + 1, profile, size // 1024, tool, rec["seconds"],
                "ok" if rec["ok"] else "FAILED " + rec["stderr"][-300:]), file=sys.stderr)
    records = [median_record(v) for v in runs.values()]
    if args.memory:
        records += run_memory(work, args.time_scale)
    print(markdown(records))
    for profile, note in NO_PEER.items():
        if any(job[0] == profile for job in jobs):
            print("\n%s: %s" % (profile, note))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(records, f, indent=2)
    if args.plot:
        svg_plot(records, args.plot)
    # a peer that fails on a model is a finding of the benchmark, ours failing is an error
    ours = ("dfu-core", "cobs", "nordic-dfu")
    return 0 if all(r["ok"] for r in records if r["tool"] in ours) else 1


if __name__ == "__main__":
    sys.exit(main())
