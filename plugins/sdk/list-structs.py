#!/usr/bin/env python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
# Prints the rustgen inputs whose generated headers libfwupdplugin's public headers include,
# read from the fwupd source's own libfwupdplugin/meson.build so the list always matches it.
import re
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    text = f.read()
block = re.search(r"fwupdplugin_structs\s*=\s*\[(.*?)\]", text, re.S)
if not block:
    sys.exit("cannot find fwupdplugin_structs in " + sys.argv[1])
for name in re.findall(r"'([^']+\.rs)'", block.group(1)):
    print(name)
