#!/bin/sh
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
# fwupdtool, loading our modules from the build tree, lists dfu-core as loaded and not failed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$("$here/../run-fwupdtool" "$1" get-plugins --json)
echo "$out" | /usr/bin/python3 -c '
import json, sys
plugins = {p["Name"]: p.get("Flags", []) for p in json.load(sys.stdin)["Plugins"]}
flags = plugins.get("dfu_core")
if flags is None:
    sys.exit("dfu_core is not listed")
bad = [f for f in flags if f in ("failed-open", "disabled", "user-warning")]
if bad:
    sys.exit("dfu_core flags: %s" % bad)
print("dfu_core loaded:", ", ".join(flags))
'
