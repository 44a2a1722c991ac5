#!/bin/sh
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks the simulated DFU device with Debian's fwupdtool and its built-in dfu plugin, a
# client written elsewhere: enumeration, then install-blob of a DFU file, byte-exact, through
# runtime -> DFU mode -> runtime with the new version.
# fwupd 2.0.20 reads the functional descriptor only after alt 0: --func-desc-every-alt.
# Usage: test-fwupdtool.sh install
# shellcheck disable=SC1091
. "$(dirname "$0")/usbsim-test-lib.sh"

fwupdtool_client

# install PROFILE RUNTIME_PID SIZE TOLERANT CAN_UPLOAD VERSION
case_install() {
	profile=$1 rpid=$2 size=$3 tolerant=$4 upload=$5 version=$6
	step "fwupdtool install-blob: $profile, $size bytes, tolerant $tolerant, upload $upload"
	make_image "$WORK/img.bin" "$size" "$size" "$version"
	cp "$WORK/img.bin" "$WORK/img.dfu"
	dfu-suffix -v 0x1209 -p "$rpid" -d 0x0100 -a "$WORK/img.dfu" >/dev/null
	sim "$WORK/trace.json" --profile "$profile" --func-desc-every-alt \
		--manifest-tolerant "$tolerant" --can-upload "$upload" \
		--flash-out "$WORK/flash.bin" -- \
		sh "$WORK/client.sh" 0x1209 "$rpid" "$WORK/img.dfu"
	expect_eq "fwupdtool exit status" "$RC" 0
	[ -s "$WORK/devices.json" ] || fail "get-devices wrote nothing"
	same_prefix "$WORK/img.bin" "$WORK/flash.bin"
	expect_eq "bytes programmed" "$(summary "$WORK/trace.json" bytes_programmed)" "$size"
	expect_eq "final mode" "$(summary "$WORK/trace.json" final_mode)" runtime
	expect_eq "runtime version" "$(summary "$WORK/trace.json" runtime_version)" \
		"$(printf '%d' "$version")"
	expect_ge "re-enumerations" "$(summary "$WORK/trace.json" reenumerations)" 2
	if [ "$upload" = yes ]; then
		# fwupd verifies by reading the image back
		expect_eq "bytes uploaded" "$(summary "$WORK/trace.json" bytes_uploaded)" "$size"
	fi
}

case "${1:-}" in
install)
	case_install stm32f1-dfu 0x0010 65536 yes yes 0x0205
	case_install gd32vf103-dfu 0x0012 40000 no no 0x0301
	;;
*)
	echo "usage: $0 install" >&2
	exit 2
	;;
esac
echo "PASS"
