#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Builds an nrfutil-shaped Secure DFU package (zip with manifest.json, .bin and .dat) the
way pc-nrfutil's `pkg generate` lays it out, deterministically, without nrfutil or a
protobuf module: the init packet (a protobuf Packet) is encoded by hand here.

Images are given as TYPE=SOURCE, TYPE one of application, softdevice, bootloader,
softdevice_bootloader; SOURCE a file or a size in bytes (deterministic content).
For softdevice_bootloader, SOURCE is SD_SIZE+BL_SIZE (sizes) or SD_FILE+BL_FILE.

  make-nrfutil-package.py out.zip application=40960 --fw-version 7 --sd-req 0x100
  make-nrfutil-package.py out.zip softdevice_bootloader=151552+24576 application=app.bin

--signed adds a signed_command with a dummy 64-byte ECDSA signature (the shape of a signed
package; a real bootloader with a key rejects it). The --bad-* options break one field, for
tests of the checks that must refuse such packages.
"""

import argparse
import hashlib
import json
import sys
import zipfile
import zlib

FW_TYPES = {"application": 0, "softdevice": 1, "bootloader": 2, "softdevice_bootloader": 3}
FILE_STEMS = {
    "application": "app",
    "softdevice": "sd",
    "bootloader": "bl",
    "softdevice_bootloader": "sd_bl",
}
HASH_SHA256 = 3
VALIDATE_GENERATED_CRC = 1


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(num, value):
    return varint(num << 3) + varint(value)


def field_bytes(num, data):
    return varint((num << 3) | 2) + varint(len(data)) + data


def pattern(size, seed):
    """Deterministic bytes, SLIP specials included so escaping is exercised."""
    out = bytearray(size)
    x = seed & 0xFFFFFFFF
    for i in range(size):
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF
        out[i] = (x >> 16) & 0xFF
    return bytes(out)


def load(source, seed):
    if source.isdigit():
        return pattern(int(source), seed)
    with open(source, "rb") as f:
        return f.read()


def init_command(args, fw_type, image, sd_size, bl_size):
    digest = hashlib.sha256(image).digest()
    if args.bad_hash:
        digest = bytes([digest[0] ^ 0xFF]) + digest[1:]
    cmd = b""
    fw_version = args.fw_version if fw_type in (0, 2, 3) else 0xFFFFFFFF
    cmd += field_varint(1, fw_version)
    cmd += field_varint(2, args.hw_version)
    sd_req = b"".join(varint(v) for v in args.sd_req)
    cmd += field_bytes(3, sd_req)
    cmd += field_varint(4, fw_type if not args.bad_type else (fw_type + 1) % 4)
    size_delta = 1 if args.bad_size else 0
    if fw_type == 0:
        cmd += field_varint(7, len(image) + size_delta)
    elif fw_type == 1:
        cmd += field_varint(5, len(image) + size_delta)
    elif fw_type == 2:
        cmd += field_varint(6, len(image) + size_delta)
    else:
        cmd += field_varint(5, sd_size + size_delta)
        cmd += field_varint(6, bl_size)
    # the digest is stored byte-reversed (pc-nrfutil Package.calculate_sha256_hash)
    cmd += field_bytes(8, field_varint(1, HASH_SHA256) + field_bytes(2, digest[::-1]))
    cmd += field_varint(9, 0)
    boot_crc = zlib.crc32(image).to_bytes(4, "little")
    cmd += field_bytes(10, field_varint(1, VALIDATE_GENERATED_CRC) + field_bytes(2, boot_crc))
    return cmd


def packet(args, init):
    command = field_varint(1, 1) + field_bytes(2, init)  # op_code INIT, init
    if not args.signed:
        return field_bytes(1, command)
    signature = pattern(64, 0x5167)
    signed = field_bytes(1, command) + field_varint(2, 0) + field_bytes(3, signature)
    return field_bytes(2, signed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("images", nargs="+", metavar="TYPE=SOURCE")
    parser.add_argument("--fw-version", type=lambda s: int(s, 0), default=1)
    parser.add_argument("--hw-version", type=lambda s: int(s, 0), default=52)
    parser.add_argument(
        "--sd-req", type=lambda s: [int(v, 0) for v in s.split(",")], default=[0x100]
    )
    parser.add_argument("--signed", action="store_true")
    parser.add_argument("--bad-hash", action="store_true")
    parser.add_argument("--bad-size", action="store_true")
    parser.add_argument("--bad-type", action="store_true")
    args = parser.parse_args()

    manifest = {}
    files = []
    for seed, spec in enumerate(args.images, start=1):
        kind, _, source = spec.partition("=")
        if kind not in FW_TYPES:
            sys.exit(f"unknown image type {kind}")
        sd_size = bl_size = 0
        if kind == "softdevice_bootloader":
            sd_src, _, bl_src = source.partition("+")
            sd = load(sd_src, seed * 31)
            bl = load(bl_src, seed * 37)
            image = sd + bl
            sd_size, bl_size = len(sd), len(bl)
        else:
            image = load(source, seed * 31)
        stem = FILE_STEMS[kind]
        dat = packet(args, init_command(args, FW_TYPES[kind], image, sd_size, bl_size))
        entry = {"bin_file": f"{stem}.bin", "dat_file": f"{stem}.dat"}
        if kind == "softdevice_bootloader":
            entry["info_read_only_metadata"] = {"bl_size": bl_size, "sd_size": sd_size}
        manifest[kind] = entry
        files += [(f"{stem}.bin", image), (f"{stem}.dat", dat)]

    doc = {"manifest": dict(manifest, dfu_version=0.5)}
    files.insert(0, ("manifest.json", json.dumps(doc, indent=4, sort_keys=True).encode()))
    with zipfile.ZipFile(args.output, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)


if __name__ == "__main__":
    main()
