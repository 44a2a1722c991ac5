#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reads fwupdtool's JSON for test-deb.sh.

  installed_check.py plugins FILE   prints which of our plugins get-plugins listed
  installed_check.py device FILE    checks get-devices gave the STM32 system bootloader to
                                    dfu_core with the flags of the installed quirk
  installed_check.py help FILE      checks an argparse --help output gives every option a
                                    description
"""

import json
import re
import sys

OURS = ("cobs", "dfu_core", "nordic_dfu")
STM32_BOOTLOADER = "USB\\VID_0483&PID_DF11"


def check_help(text):
    """Every entry of the options section: its flags, then a description on the same line
    (after two spaces or more) or on the lines below, indented further than the flags."""
    section = text.split("\noptions:\n", 1)
    if len(section) != 2:
        print("no options section in the --help output")
        return 1
    entries = []
    for line in section[1].split("\n\n", 1)[0].splitlines():
        if re.match(r"^  -", line):
            flags, _, desc = line.strip().partition("  ")
            entries.append([flags, desc.strip()])
        elif entries and re.match(r"^ {4,}\S", line):
            entries[-1][1] += line.strip()
    bare = [flags for flags, desc in entries if not desc]
    if bare or len(entries) < 2:
        print("fwupd-dfu-make-cabinet --help: options without a description: %s" % bare)
        return 1
    print("fwupd-dfu-make-cabinet --help: %d options, each described" % len(entries))
    return 0


def main():
    what, path = sys.argv[1], sys.argv[2]
    if what == "help":
        with open(path, encoding="utf-8") as f:
            return check_help(f.read())
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
