#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reads fwupdtool's JSON for test-deb.sh.

  installed_check.py plugins FILE   prints which of our plugins get-plugins listed
  installed_check.py device FILE    checks get-devices gave the STM32 system bootloader to
                                    dfu_core with the flags of the installed quirk
"""

import json
import sys

OURS = ("cobs", "dfu_core", "nordic_dfu")
STM32_BOOTLOADER = "USB\\VID_0483&PID_DF11"


def main():
    what, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if what == "plugins":
        print(" ".join(sorted(p["Name"] for p in data["Plugins"] if p["Name"] in OURS)))
        return 0
    devices = [d for d in data["Devices"] if STM32_BOOTLOADER in d.get("InstanceIds", [])]
    if [d["Plugin"] for d in devices] != ["dfu_core"]:
        print("0483:DF11 owned by %r" % [d["Plugin"] for d in devices])
        return 1
    if "will-disappear" not in devices[0]["Flags"]:
        print("0483:DF11 lacks the installed quirk's flags: %r" % devices[0]["Flags"])
        return 1
    print("fwupdtool get-devices: 0483:DF11 by dfu_core, flags from the installed quirk")
    return 0


if __name__ == "__main__":
    sys.exit(main())
