#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seed corpora of the plugin fuzz targets (tests/fuzz/<target>/), deterministically,
from the project's own sample builders: small valid inputs of every kind a target takes, and
a few near misses. Each seed starts with the target's selector byte.

  make-seeds.py [OUTDIR]      (default: the directory of this script)
"""

import binascii
import io
import os
import struct
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
from e2e_common import dfuse_file, filler  # noqa: E402

SAMPLE = os.path.join(TOP, "data", "make-sample-firmware.py")
NRFUTIL = os.path.join(TOP, "plugins", "nordic-dfu", "tests",
                       "make-nrfutil-package.py")

# selector bits of fu-dfu-core-firmware-fuzz
ALLOW_RAW = 0x01
DFUSE = 0x02


def write(outdir, target, name, data):
    path = os.path.join(outdir, target, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def sample(tmp, size, fmt, vid=0x1209, pid=0x0010):
    out = os.path.join(tmp, "sample." + fmt)
    subprocess.run(["/usr/bin/python3", SAMPLE, "--size", str(size), "--version", "0x0102",
                    "--format", fmt, "--out", out, "--vid", hex(vid), "--pid", hex(pid),
                    "--seed", "3"], check=True)
    with open(out, "rb") as f:
        return f.read()


def ihex_record(rtype, addr, data):
    body = bytes([len(data), addr >> 8, addr & 0xFF, rtype]) + data
    return ":%s%02X\n" % (body.hex().upper(), (-sum(body)) & 0xFF)


def ihex_sparse(count, step):
    """count one-byte records step bytes apart: tiny, but a huge image once holes are filled"""
    out = ""
    for i in range(count):
        addr = i * step
        out += ihex_record(4, 0, struct.pack(">H", addr >> 16))
        out += ihex_record(0, addr & 0xFFFF, b"\x5a")
    return (out + ihex_record(1, 0, b"")).encode()


def dfu_core_seeds(outdir, tmp):
    target = "fu-dfu-core-firmware-fuzz"
    dfu = sample(tmp, 512, "dfu")
    write(outdir, target, "dfu", bytes([0]) + dfu)
    write(outdir, target, "dfu-on-dfuse", bytes([DFUSE]) + dfu)
    write(outdir, target, "dfu-bad-crc", bytes([0]) + dfu[:100] + b"\x55" + dfu[101:])
    write(outdir, target, "dfu-truncated", bytes([0]) + dfu[: len(dfu) // 2])
    hexfile = sample(tmp, 256, "hex")
    write(outdir, target, "ihex", bytes([0]) + hexfile)
    write(outdir, target, "ihex-on-dfuse", bytes([DFUSE]) + hexfile)
    write(outdir, target, "ihex-sparse", bytes([0]) + ihex_sparse(20, 0x100000))
    # an extended address record without its two bytes once reached a reader with no buffer
    write(outdir, target, "ihex-empty-extended-segment",
          bytes([0]) + (ihex_record(2, 0x0408, b"") + ihex_record(1, 0, b"")).encode())
    write(outdir, target, "raw", bytes([ALLOW_RAW]) + filler(300, 9))
    write(outdir, target, "raw-on-dfuse", bytes([ALLOW_RAW | DFUSE]) + filler(300, 9))
    # DfuSe files: one element, several targets and elements, named memories, outside
    path = os.path.join(tmp, "dfuse.dfu")
    cases = {
        "dfuse-one": [(0, "Internal Flash", [(0x08000000, filler(256, 1))])],
        "dfuse-multi": [(0, "Internal Flash", [(0x08000000, filler(128, 2)),
                                               (0x08020100, filler(64, 3))]),
                        (1, "Option Bytes", [(0x1FFFC000, bytes([0xAA, 0x55] * 8))])],
        "dfuse-by-name": [(7, "OTP Memory", [(0x1FFF7800, filler(32, 4))])],
        "dfuse-outside": [(0, "Internal Flash", [(0x08100000, filler(64, 5))])],
        "dfuse-overlap": [(0, "Internal Flash", [(0x08000000, filler(64, 6)),
                                                 (0x08000020, filler(64, 7))])],
    }
    for name, targets in cases.items():
        dfuse_file(targets, 0x0483, 0xDF11, path)
        with open(path, "rb") as f:
            data = f.read()
        write(outdir, target, name, bytes([DFUSE]) + data)
        if name == "dfuse-one":
            write(outdir, target, "dfuse-on-dfu", bytes([0]) + data)
            # dfu-util's dfuse-pack: the prefix's size counts the suffix too
            body = bytearray(data[:-4])
            struct.pack_into("<I", body, 6, len(data))
            crc = binascii.crc32(bytes(body)) ^ 0xFFFFFFFF
            write(outdir, target, "dfuse-pack-size", bytes([DFUSE]) + bytes(body) +
                  struct.pack("<I", crc))


def nrfutil(tmp, name, *args):
    out = os.path.join(tmp, name + ".zip")
    subprocess.run(["/usr/bin/python3", NRFUTIL, out] + list(args), check=True,
                   capture_output=True)
    with open(out, "rb") as f:
        return out, f.read()


def nordic_seeds(outdir, tmp):
    target = "fu-nordic-dfu-firmware-fuzz"
    packages = {
        "app": ["application=512"],
        "app-signed": ["application=512", "--signed"],
        "sd-bl-app": ["softdevice_bootloader=1024+512", "application=256", "--sd-req",
                      "0x100,0x101"],
        "bl": ["bootloader=512", "--sd-req", "0x0"],
        "bad-hash": ["application=256", "--bad-hash"],
        "bad-size": ["application=256", "--bad-size"],
        "bad-type": ["application=256", "--bad-type"],
    }
    for name, args in packages.items():
        path, data = nrfutil(tmp, name, *args)
        write(outdir, target, "zip-" + name, bytes([0]) + data)
        # the init packets alone
        with zipfile.ZipFile(path) as z:
            for member in sorted(z.namelist()):
                if member.endswith(".dat"):
                    write(outdir, target, "dat-%s-%s" % (name, member[:-4]),
                          bytes([1]) + z.read(member))
    # an empty manifest.json once failed the parse without an error, and crashed fwupd
    write(outdir, target, "zip-empty-manifest", bytes([0]) + zip_of({"manifest.json": b""}))


def slip(frame):
    """SLIP as the nRF5 SDK frames a reply: END and ESC escaped, one END at the end."""
    return frame.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


def nrf_reply(op, payload=b"", result=1):
    return bytes([0x60, op, result]) + payload


def nrf_identity():
    """What an nRF52840 Dongle's bootloader answers to ping, HW version and FW versions."""
    return [nrf_reply(0x09, b"\x01"),
            nrf_reply(0x0A, struct.pack("<IIIII", 0x52840, 0x41414430, 0x100000, 0x40000,
                                        0x1000)),
            nrf_reply(0x0B, struct.pack("<BIII", 2, 3, 0xE0000, 0x6000)),
            nrf_reply(0x0B, struct.pack("<BIII", 0, 0x100, 0x1000, 0x26000)),
            nrf_reply(0x0B, struct.pack("<BIII", 1, 0x0102, 0x27000, 0x2000))]


def nrf_transfer(init, image, obj, mtu=None):
    """The replies to a transfer of one image from its start, without ping."""
    out = [nrf_reply(0x02)]
    if mtu is not None:
        out.append(nrf_reply(0x07, struct.pack("<H", mtu)))
    out += [nrf_reply(0x06, struct.pack("<III", 512, 0, 0)), nrf_reply(0x01),
            nrf_reply(0x03, struct.pack("<II", len(init), binascii.crc32(init))),
            nrf_reply(0x04), nrf_reply(0x06, struct.pack("<III", obj, 0, 0))]
    for start in range(0, len(image), obj):
        end = min(start + obj, len(image))
        out += [nrf_reply(0x01),
                nrf_reply(0x03, struct.pack("<II", end, binascii.crc32(image[:end]))),
                nrf_reply(0x04)]
    return out


def nordic_link_seeds(outdir):
    def reads(chunks):
        return b"".join(bytes([len(c)]) + c for c in chunks)

    # the UART: the byte stream as the port hands it over, in reads of any size
    target = "fu-nordic-dfu-uart-fuzz"
    init = bytes((i * 5 + 1) & 0xFF for i in range(64))
    image = bytes((i * 7 + 3) & 0xFF for i in range(300))
    # each request of the setup is a session of its own: a reply may be split over reads,
    # but cannot start before its request went out
    identity = [slip(r) for r in nrf_identity()]
    halves = [c for r in identity for c in (r[:len(r) // 2], r[len(r) // 2:])]
    write(outdir, target, "setup", bytes([0x00]) + reads(halves))
    old_sdk = [slip(nrf_reply(0x0A, result=2)), slip(nrf_reply(0x0B, result=2))]
    write(outdir, target, "setup-no-ping-old-sdk", bytes([0x01]) + reads(old_sdk))
    stream = b"".join(slip(r) for r in nrf_transfer(init, image, 256, 131))
    write(outdir, target, "transfer-one-byte-reads", bytes([0x02]) + reads(
        identity + [stream[i:i + 1] for i in range(len(stream))]))
    write(outdir, target, "transfer-split-frames", bytes([0x02]) + reads(
        identity + [stream[i:i + 7] for i in range(0, len(stream), 7)]))
    noisy = b"\x00\x55\xc0" + identity[1][:9] + b"\xdb\x01\xc0" + identity[0]
    write(outdir, target, "noise-bad-escape", bytes([0x00]) + reads([noisy] + identity[1:]))

    # BLE: notifications are datagrams, unframed; no MTU get, the core is given the packet size
    target = "fu-nordic-dfu-ble-fuzz"
    init = bytes((i * 5 + 1) & 0xFF for i in range(140))
    image = bytes((i * 7 + 3) & 0xFF for i in range(700))
    replies = nrf_identity() + [nrf_reply(0x09, b"\x01")] + nrf_transfer(init, image, 4096)
    write(outdir, target, "transfer-att-247", struct.pack(">H", 247) + b"\x01" + reads(replies))
    write(outdir, target, "transfer-att-23", struct.pack(">H", 23) + b"\x01" + reads(replies))
    write(outdir, target, "att-mtu-huge", struct.pack(">H", 0xFFFF) + b"\x00" +
          reads(nrf_identity()))
    write(outdir, target, "notification-too-long", struct.pack(">H", 185) + b"\x00" +
          reads([nrf_reply(0x09, b"\x01" * 100)]))


def zip_of(members):
    """A stored zip of these members, with fixed dates so that the seed is reproducible."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in members.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return out.getvalue()


def cobs_frame(control, payload=b""):
    """control, COBS(payload), 00; a message without payload is control 00."""
    if not payload:
        return bytes([control, 0])
    out, block = bytearray(), bytearray()
    for b in payload:
        if b == 0:
            out += bytes([len(block) + 1]) + block
            block = bytearray()
        else:
            block.append(b)
            if len(block) == 254:
                out += bytes([255]) + block
                block = bytearray()
    out += bytes([len(block) + 1]) + block
    return bytes([control]) + bytes(out) + b"\x00"


def cobs_seeds(outdir):
    target = "fu-cobs-session-fuzz"
    image = bytes((i * 7 + 1) & 0xFF for i in range(200))
    chunks = (len(image) + 60) // 61
    ack = cobs_frame(0x06)

    def reads(replies):
        return b"".join(bytes([len(r)]) + r for r in replies)

    def seed(quirks, replies):
        q = quirks.encode()
        return bytes([len(q)]) + q + reads(replies)

    plain = [ack] * (1 + chunks + 1)
    write(outdir, target, "plain-acks", seed("", plain))
    ext = cobs_frame(0x06, bytes([1, 1]))
    verify = cobs_frame(0x06, bytes([5]) + struct.pack("<II", len(image),
                                                       binascii.crc32(image)))
    write(outdir, target, "verify", seed("", [ext] + [ack] * chunks + [verify, ack]))
    write(outdir, target, "verify-wrong-crc",
          seed("", [ext] + [ack] * chunks + [cobs_frame(0x06, bytes([5]) + bytes(8)), ack]))
    write(outdir, target, "acks-in-one-read", seed("", [b"".join(plain)]))
    write(outdir, target, "acks-split", seed("", [b"\x06", b"\x00"] * (2 + chunks)))
    write(outdir, target, "quirks", seed("CobsSectorSize=0x20000\nCobsQueueDepth=0\n"
                                         "CobsReplyTimeout=5\nCobsWordSize=32", plain))
    write(outdir, target, "not-ack", seed("", [ack, cobs_frame(0x02, b"\x01")]))
    write(outdir, target, "no-answer", seed("", [ack]))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else HERE
    with tempfile.TemporaryDirectory() as tmp:
        dfu_core_seeds(outdir, tmp)
        nordic_seeds(outdir, tmp)
    nordic_link_seeds(outdir)
    cobs_seeds(outdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
