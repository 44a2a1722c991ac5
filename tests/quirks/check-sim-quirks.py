#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The test quirks of the simulated devices (tests/quirks/*.quirk) against the models they
describe: fwupd reads the quirk files, the e2e tests read the models' facts from
`usbsim-run --list-profiles --json` and `usbsim-nrf-run --list-profiles --json`, so a quirk
that names IDs, a flash size or a timing must name the model's.

  check-sim-quirks.py BUILD

Every group must be the USB (or NRFDFU_UART) IDs of a simulated device; a CounterpartGuid the
same device's other mode; FirmwareSizeMax its flash size; the COBS and Nordic figures what the
model does by default. Prints each mismatch and exits 1 on any."""

import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GROUP = re.compile(r"^(USB|NRFDFU_UART)\\VID_([0-9A-F]{4})&PID_([0-9A-F]{4})$")


def read_quirks(path):
    """{group: {key: value}} of a quirk file, in file order."""
    groups, current = {}, None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("[") and line.endswith("]"):
                current = groups.setdefault(line[1:-1], {})
            elif "=" in line and current is not None:
                key, value = line.split("=", 1)
                current[key.strip()] = value.strip()
            else:
                raise SystemExit("%s:%d: neither a group nor KEY = VALUE" % (path, n))
    return groups


def models(build, harness):
    out = subprocess.run([os.path.join(build, "tests", "usbsim", harness),
                          "--list-profiles", "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def group_id(kind, vid, pid):
    return "%s\\VID_%04X&PID_%04X" % (kind, vid, pid)


def expected_groups(build):
    """{group: (device, {key: the model's value})} for every simulated identity."""
    want = {}
    for p in models(build, "usbsim-run"):
        ids = [p["runtime_pid"], p["dfu_pid"]]
        if p["family"] == "cobs":
            want[group_id("USB", p["vid"], ids[0])] = (p["name"], {
                "FirmwareSizeMax": p["flash_size"],
                "CobsSectorSize": p["sector_size"],
                "CobsSectorEraseTime": p["erase_max_us"] // 1000,
                "CobsWordSize": p["word_size"],
                "CobsWordProgramTime": p["program_max_us"],
            })
            continue
        for mine, other in (ids, ids[::-1]):
            facts = {"CounterpartGuid": group_id("USB", p["vid"], other)}
            # a DfuSe device's size is its layout's: fwupd is told none
            if p["family"] == "dfu":
                facts["FirmwareSizeMax"] = p["flash_size"]
            want[group_id("USB", p["vid"], mine)] = (p["name"], facts)
    for p in models(build, "usbsim-nrf-run"):
        facts = {"NordicDfuHwVersion": p["hw_version"], "NordicDfuSdId": p["sd_fwid"]}
        if p["front"] == "uart":
            facts["NordicDfuBaudRate"] = p["baud"]
            want[group_id("NRFDFU_UART", p["vid"], p["pid"])] = (p["name"], facts)
        else:
            want[group_id("USB", p["vid"], p["pid"])] = (p["name"], facts)
            want[group_id("USB", p["app_vid"], p["app_pid"])] = (
                p["name"] + " application",
                {"CounterpartGuid": group_id("USB", p["vid"], p["pid"])})
    return want


def check(quirk_files, want):
    errors = []
    for path in quirk_files:
        name = os.path.relpath(path, os.path.dirname(os.path.dirname(HERE)))
        for group, keys in read_quirks(path).items():
            if not GROUP.match(group) or group not in want:
                errors.append("%s: [%s] is no simulated device's IDs" % (name, group))
                continue
            device, facts = want[group]
            for key, value in keys.items():
                if key not in facts:
                    continue
                try:
                    same = int(value, 0) == facts[key]
                except (TypeError, ValueError):
                    same = value.upper() == str(facts[key]).upper()
                if not same:
                    model = facts[key]
                    if isinstance(model, int) and value.lower().startswith("0x"):
                        model = hex(model)
                    errors.append("%s: [%s] %s = %s, but the %s model has %s" %
                                  (name, group, key, value, device, model))
    return errors


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    build = os.path.abspath(sys.argv[1])
    files = sorted(os.path.join(HERE, f) for f in os.listdir(HERE) if f.endswith(".quirk"))
    errors = check(files, expected_groups(build))
    for e in errors:
        print(e)
    print("%d quirk files, %d mismatches" % (len(files), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
