#!/usr/bin/env python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
# Prints the version of an fwupd source tree, from the project() call of its meson.build.
import re
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
match = re.search(r"project\(.*?version:\s*'([^']+)'", text, re.S)
if not match:
    sys.exit("no version in " + sys.argv[1])
print(match.group(1))
