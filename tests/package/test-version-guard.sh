#!/bin/sh
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
# A module built for another fwupd does nothing in this one and says why: the COBS module built
# for fwupd 2.0.19 lists no device for a simulated COBS bootloader, which the module built for
# this fwupd lists.
#   test-version-guard.sh BUILD_DIR OTHER_MODULE_DIR
set -eu
build=$1
other=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

# list the devices of a simulated COBS bootloader with the COBS module of directory $1
list_devices() {
	FWUPD_TEST_STATE_DIR="$work/state-$2" FWUPD_TEST_MODULE_DIR="$1" \
		"$build/tests/usbsim/usbsim-run" --profile stm32h7-cobs --time-scale 0.05 -- \
		"$top/tests/run-fwupdtool" "$build" get-devices --json >"$work/$2.json" 2>"$work/$2.err" ||
		{ tail -n 20 "$work/$2.err"; fail "fwupdtool get-devices failed"; }
	/usr/bin/python3 -c '
import json, sys
devices = json.load(open(sys.argv[1])).get("Devices", [])
print(len([d for d in devices if d.get("Plugin") == "cobs"]))
' "$work/$2.json"
}

version=$(pkg-config --modversion fwupd)
[ "$(list_devices "$build/plugins/cobs" this)" -eq 1 ] ||
	fail "the module built for fwupd $version lists no COBS device: $(cat "$work/this.json")"
echo "module built for fwupd $version: the COBS bootloader is listed"
[ "$(list_devices "$other" other)" -eq 0 ] ||
	fail "the module built for fwupd 2.0.19 lists a device: $(cat "$work/other.json")"
grep "the cobs plugin was built for fwupd 2.0.19, not for this fwupd $version, and does nothing" \
	"$work/other.err" || { cat "$work/other.err"; fail "no warning saying why"; }
echo "module built for fwupd 2.0.19: no device listed"
