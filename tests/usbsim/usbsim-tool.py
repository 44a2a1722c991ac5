#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers of the usbsim tool tests: make images, compare flash dumps, read traces."""

import json
import random
import struct
import sys
import zlib


def cmd_image(path, size, seed, version=None):
    rng = random.Random(int(seed))
    data = bytearray(rng.getrandbits(8) for _ in range(int(size)))
    if version is not None:
        struct.pack_into("<H", data, 0x100, int(version, 0))
    with open(path, "wb") as f:
        f.write(data)
    return 0


def cmd_dfuse_file(image_path, address, vid, pid, out_path, alt="0"):
    """a DfuSe file as UM0391 defines it: the prefix's image size excludes the suffix"""
    data = open(image_path, "rb").read()
    element = struct.pack("<II", int(address, 0), len(data)) + data
    name = b"usbsim".ljust(255, b"\0")
    target = b"Target" + struct.pack("<BI", int(alt), 1) + name
    target += struct.pack("<II", len(element), 1) + element
    body = b"DfuSe" + struct.pack("<BIB", 1, 11 + len(target), 1) + target
    body += struct.pack("<HHHH", 0xFFFF, int(pid, 0), int(vid, 0), 0x011A) + b"UFD" + bytes([16])
    crc = ~zlib.crc32(body) & 0xFFFFFFFF
    with open(out_path, "wb") as f:
        f.write(body + struct.pack("<I", crc))
    return 0


def cmd_compare(image_path, flash_path):
    image = open(image_path, "rb").read()
    flash = open(flash_path, "rb").read()
    if len(flash) < len(image):
        print(f"{flash_path}: {len(flash)} bytes, shorter than the image", file=sys.stderr)
        return 1
    if flash[: len(image)] != image:
        first = next(i for i in range(len(image)) if flash[i] != image[i])
        print(f"{flash_path}: differs from the image at offset {first:#x}", file=sys.stderr)
        return 1
    rest = flash[len(image):]
    if rest.count(0xFF) != len(rest):
        print(f"{flash_path}: not erased after the image", file=sys.stderr)
        return 1
    return 0


def records(trace_path):
    with open(trace_path) as f:
        return [json.loads(line) for line in f if line.strip()]


def cmd_summary(trace_path, key):
    summary = [r for r in records(trace_path) if r.get("summary")]
    if len(summary) != 1:
        print(f"{trace_path}: {len(summary)} summary records", file=sys.stderr)
        return 1
    value = summary[0]
    for part in key.split("."):
        value = value.get(part, 0) if isinstance(value, dict) else 0
    if isinstance(value, bool):
        value = "true" if value else "false"
    print(value)
    return 0


def cmd_count(trace_path, request, outcome):
    """requests of that name with that outcome ('any' for all)"""
    n = sum(
        1
        for r in records(trace_path)
        if r.get("request") == request and outcome in ("any", r.get("outcome"))
    )
    print(n)
    return 0


def cmd_limits(trace_path):
    """the summary carries both limits, the spec-compliant one no lower than the physical,
    and the obeying host's time, which needs more status reads than either counts"""
    summary = [r for r in records(trace_path) if r.get("summary")][0]
    physical = summary.get("limit_physical_ms")
    spec = summary.get("limit_spec_ms")
    obeying = summary.get("obeying_host_ms")
    if physical is None or spec is None or obeying is None or not 0 < physical <= spec:
        print(f"{trace_path}: limits {physical} / {spec} / {obeying}", file=sys.stderr)
        return 1
    if summary.get("protocol") in ("dfu", "dfuse") and not obeying > spec:
        print(f"{trace_path}: obeying host {obeying} not above the spec limit {spec}",
              file=sys.stderr)
        return 1
    print(f"limit_physical_ms {physical} limit_spec_ms {spec} obeying_host_ms {obeying}")
    return 0


def cmd_block_sizes(trace_path):
    """the data block sizes a host sent (DNLOAD above block 1), for the test log"""
    sizes = sorted({r["wLength"] for r in records(trace_path)
                    if r.get("request") == "dnload" and r.get("wValue", 0) >= 2
                    and r.get("wLength", 0) > 0})
    print("data block sizes:", sizes)
    return 0


def cmd_erased(flash_path):
    flash = open(flash_path, "rb").read()
    return 0 if flash.count(0xFF) == len(flash) else 1


def cmd_device_id(json_path, vid, pid):
    """the fwupd device ID of a device from `fwupdtool get-devices --json`"""
    want = f"USB\\VID_{int(vid, 0):04X}&PID_{int(pid, 0):04X}"
    doc = json.load(open(json_path))
    for dev in doc.get("Devices", []):
        if any(want == g or g.startswith(want + "&") for g in dev.get("InstanceIds", [])):
            print(dev["DeviceId"])
            return 0
    print(f"no device with {want} in {json_path}", file=sys.stderr)
    return 1


def main():
    commands = {
        "image": cmd_image,
        "compare": cmd_compare,
        "dfuse-file": cmd_dfuse_file,
        "summary": cmd_summary,
        "count": cmd_count,
        "device-id": cmd_device_id,
        "limits": cmd_limits,
        "erased": cmd_erased,
        "block-sizes": cmd_block_sizes,
    }
    return commands[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
