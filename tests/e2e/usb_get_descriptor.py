#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Asks a USB device for one descriptor with a standalone GET_DESCRIPTOR, through libusb, as
a host that does not read the configuration would (betaflight-configurator before its PR 5300
asked so for the DFU functional descriptor).

  usb_get_descriptor.py VID PID TYPE LENGTH

Prints the transfer's result (a negative libusb error, or the length) and the bytes in hex.
"""

import ctypes
import sys

LIBUSB_ERROR_PIPE = -9


def main():
    vid, pid, desc_type, length = (int(a, 0) for a in sys.argv[1:5])
    lib = ctypes.CDLL("libusb-1.0.so.0")
    lib.libusb_open_device_with_vid_pid.restype = ctypes.c_void_p
    ctx = ctypes.c_void_p()
    if lib.libusb_init(ctypes.byref(ctx)) != 0:
        print("libusb_init failed")
        return 2
    handle = lib.libusb_open_device_with_vid_pid(ctx, vid, pid)
    if not handle:
        print("no device %04x:%04x" % (vid, pid))
        return 2
    buf = ctypes.create_string_buffer(length)
    # libusb_get_descriptor() is an inline wrapper of this standard request
    rc = lib.libusb_control_transfer(ctypes.c_void_p(handle), 0x80, 0x06, desc_type << 8, 0,
                                     buf, length, 1000)
    print(rc, buf.raw[:max(rc, 0)].hex())
    lib.libusb_close(ctypes.c_void_p(handle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
