#!/bin/sh
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
# fwupdtool, loading our modules from the build tree, lists dfu-core as loaded and not failed;
# with FWUPD_TEST_UPSTREAM_BUILD (tests/run-fwupdtool), that fwupd's fwupdtool lists our
# plugins as built in, not as modules.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$("$here/../run-fwupdtool" "$1" get-plugins --json)
echo "$out" | UPSTREAM="${FWUPD_TEST_UPSTREAM_BUILD:-}" /usr/bin/python3 -c '
import json, os, sys
plugins = {p["Name"]: p.get("Flags", []) for p in json.load(sys.stdin)["Plugins"]}
built_in = os.environ["UPSTREAM"] != ""
for name in ("dfu_core", "nordic_dfu", "cobs"):
    flags = plugins.get(name)
    if flags is None:
        sys.exit("%s is not listed" % name)
    bad = [f for f in flags if f in ("failed-open", "disabled", "user-warning")]
    if bad:
        sys.exit("%s flags: %s" % (name, bad))
    if ("modular" in flags) == built_in:
        sys.exit("%s is %s" % (name, "a module, not built in" if built_in else "not a module"))
    print(name, "loaded:", ", ".join(flags))
'
