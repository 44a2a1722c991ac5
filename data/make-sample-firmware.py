#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Builds a sample firmware image for the simulated devices.

The image is deterministic filler with the application's version stored as a little-endian
BCD u16 at --version-offset (0x100 by default), where the simulated application reads the
version it reports in bcdDevice. Output formats: .dfu (DFU 1.1 suffix), .bin, .hex.
"""

import argparse
import binascii
import struct
import sys


def make_image(size: int, version: int, version_offset: int, seed: int) -> bytes:
    buf = bytearray(size)
    state = seed & 0xFFFFFFFF
    for i in range(size):
        # xorshift32: varied bytes so that a misplaced block never compares equal
        state ^= (state << 13) & 0xFFFFFFFF
        state ^= state >> 17
        state ^= (state << 5) & 0xFFFFFFFF
        buf[i] = state & 0xFF
    if version_offset + 2 <= size:
        buf[version_offset:version_offset + 2] = struct.pack("<H", version)
    return bytes(buf)


def dfu_suffix(payload: bytes, vid: int, pid: int, release: int) -> bytes:
    # DFU 1.1 appendix B: bcdDevice, idProduct, idVendor, bcdDFU, "UFD", bLength, dwCRC
    suffix = struct.pack("<HHHH3sB", release, pid, vid, 0x0100, b"UFD", 16)
    crc = binascii.crc32(payload + suffix) ^ 0xFFFFFFFF
    return payload + suffix + struct.pack("<I", crc)


def ihex(payload: bytes, base: int) -> bytes:
    lines = []
    upper = None
    for off in range(0, len(payload), 16):
        addr = base + off
        if upper != addr >> 16:
            upper = addr >> 16
            rec = struct.pack(">BHBH", 2, 0, 4, upper)
            lines.append(rec)
        chunk = payload[off:off + 16]
        lines.append(struct.pack(">BHB", len(chunk), addr & 0xFFFF, 0) + chunk)
    lines.append(struct.pack(">BHB", 0, 0, 1))
    out = []
    for rec in lines:
        csum = (-sum(rec)) & 0xFF
        out.append(":" + rec.hex().upper() + "%02X" % csum)
    return ("\n".join(out) + "\n").encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=lambda x: int(x, 0), required=True)
    parser.add_argument("--version", type=lambda x: int(x, 0), default=0x0102)
    parser.add_argument("--version-offset", type=lambda x: int(x, 0), default=0x100)
    parser.add_argument("--vid", type=lambda x: int(x, 0), default=0xFFFF)
    parser.add_argument("--pid", type=lambda x: int(x, 0), default=0xFFFF)
    parser.add_argument("--seed", type=lambda x: int(x, 0), default=0x2545F491)
    parser.add_argument("--format", choices=["dfu", "bin", "hex"], default="dfu")
    parser.add_argument("--base", type=lambda x: int(x, 0), default=0x08000000)
    parser.add_argument("--out", required=True)
    parser.add_argument("--raw-out", help="also write the bare image here")
    args = parser.parse_args()

    image = make_image(args.size, args.version, args.version_offset, args.seed or 1)
    if args.format == "dfu":
        data = dfu_suffix(image, args.vid, args.pid, args.version)
    elif args.format == "hex":
        data = ihex(image, args.base)
    else:
        data = image
    with open(args.out, "wb") as f:
        f.write(data)
    if args.raw_out:
        with open(args.raw_out, "wb") as f:
            f.write(image)
    return 0


if __name__ == "__main__":
    sys.exit(main())
