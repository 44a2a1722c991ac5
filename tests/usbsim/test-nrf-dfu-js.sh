#!/bin/sh
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
# Nordic's pc-nrf-dfu-js flashes an nrfutil package into the simulated nRF52 UART bootloader
# through its tty; the application bank must hold the image byte-exact.
#   test-nrf-dfu-js.sh  (env: USBSIM_NRF_RUN, NRF_DFU_JS_MODULES, USBSIM_TIME_SCALE)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
modules=${NRF_DFU_JS_MODULES:-$top/.cache/npm/pc-nrf-dfu-js/node_modules}
if [ ! -f "$modules/@serialport/bindings/build/Release/bindings.node" ]; then
	echo "SKIP: pc-nrf-dfu-js is not installed in $modules (run contrib/setup)"
	exit 77
fi
mkdir -p "${USBSIM_TMPDIR:-/tmp}"
dir=$(mktemp -d "${USBSIM_TMPDIR:-/tmp}/nrf-dfu-js.XXXXXX")
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 "$top/plugins/nordic-dfu/tests/make-nrfutil-package.py" "$dir/app.zip" application=20000 --fw-version 7
/usr/bin/python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" \
	"$dir/app.zip" "$dir"
# PRN 0 and 16 on a bootloader without an application, then PRN 0 on one entered by its reset
# button with an application that owns the UART once it runs again
for run in "0" "16" "0 --app-valid --app-version 6 --app-runs uart-log --dfu-mode"; do
	set -- $run
	prn=$1
	shift
	"$USBSIM_NRF_RUN" --profile nrf52-uart --time-scale "${USBSIM_TIME_SCALE:-0.05}" "$@" \
		--flash-out "$dir/flash.bin" --trace "$dir/trace.jsonl" --timeout 120 -- \
		node "$top/tests/usbsim/nrf-dfu-js-client.js" "$modules" "$prn" \
		"$dir/app.dat" "$dir/app.bin"
	/usr/bin/python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
image = open(d + "/app.bin", "rb").read()
flash = open(d + "/flash.bin", "rb").read()
summary = [json.loads(l) for l in open(d + "/trace.jsonl") if '"summary"' in l][-1]
assert flash[0x27000:0x27000 + len(image)] == image, "bank 0 does not hold the image"
assert summary["images_activated"] == 1 and summary["app_valid"], summary
assert summary["objects_data"] == 5, summary
print("pc-nrf-dfu-js: %d bytes, %d writes, limit %.1f ms, requests %s" % (
    summary["bytes_stored"], summary["data_writes"], summary["limit_physical_ms"],
    summary["requests"]))
PY
done
