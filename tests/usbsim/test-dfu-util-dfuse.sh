#!/bin/sh
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks the DfuSe models with Debian's dfu-util 0.11, a client written elsewhere: raw and
# DfuSe-file downloads with leave, uploads, GD32VF103 and STM32F1 layouts, read protection.
# Usage: test-dfu-util-dfuse.sh download|upload|gd32|stm32f1|stm32l4|protection
# shellcheck disable=SC1091
. "$(dirname "$0")/usbsim-test-lib.sh"

F4_BASE=0x08000000

# the application came up with the image's version after the leave
expect_left_to_app() {
	expect_eq "final mode" "$(summary "$1" final_mode)" runtime
	expect_eq "runtime version" "$(summary "$1" runtime_version)" "$2"
	expect_eq "leaves" "$(summary "$1" manifestations)" 1
}

expect_limits() {
	"$PYTHON" "$HERE/usbsim-tool.py" limits "$1" || fail "limits missing from the summary"
}

# raw download with leave: dfu-util -a 0 -s 0x08000000:leave -D file.bin
case_download() {
	extra=$1
	step "dfu-util DfuSe download: stm32f4-dfuse, 70000 bytes ${extra:-(no misbehaviour)}"
	make_image "$WORK/img.bin" 70000 11 0x0234
	# shellcheck disable=SC2086
	sim "$WORK/trace.json" --profile stm32f4-dfuse $extra --flash-out "$WORK/flash.bin" -- \
		dfu-util -d 0483:df11 -a 0 -s "$F4_BASE:leave" -D "$WORK/img.bin"
	expect_eq "dfu-util exit status" "$RC" 0
	same_prefix "$WORK/img.bin" "$WORK/flash.bin"
	expect_eq "bytes programmed" "$(summary "$WORK/trace.json" bytes_programmed)" 70000
	expect_eq "writes to memory not erased" "$(summary "$WORK/trace.json" writes_not_erased)" 0
	# 4 x 16 KiB and the 64 KiB sector hold 70000 bytes
	expect_eq "sectors erased" "$(summary "$WORK/trace.json" erases)" 5
	expect_ge "set-address commands" "$(summary "$WORK/trace.json" set_address_commands)" 1
	expect_left_to_app "$WORK/trace.json" 564
	expect_limits "$WORK/trace.json"
}

# a DfuSe file made by dfu-util's own dfuse-pack
case_dfuse_file() {
	step "dfu-util DfuSe file from dfuse-pack: stm32f4-dfuse"
	make_image "$WORK/img.bin" 40000 12 0x0301
	dfuse-pack -b "$F4_BASE:$WORK/img.bin" -D 0x0483:0xdf11 "$WORK/img.dfu" >/dev/null
	sim "$WORK/trace.json" --profile stm32f4-dfuse --flash-out "$WORK/flash.bin" -- \
		dfu-util -d 0483:df11 -a 0 -s :leave -D "$WORK/img.dfu"
	expect_eq "dfu-util exit status" "$RC" 0
	same_prefix "$WORK/img.bin" "$WORK/flash.bin"
	expect_left_to_app "$WORK/trace.json" 769
}

case_upload() {
	step "dfu-util DfuSe upload: stm32f4-dfuse, 65536 bytes from 0x08000000"
	make_image "$WORK/flash-in.bin" 131072 13
	rm -f "$WORK/up.bin"
	sim "$WORK/trace.json" --profile stm32f4-dfuse --flash-in "$WORK/flash-in.bin" -- \
		dfu-util -d 0483:df11 -a 0 -s "$F4_BASE:65536" -U "$WORK/up.bin"
	expect_eq "dfu-util exit status" "$RC" 0
	head -c 65536 "$WORK/flash-in.bin" >"$WORK/expected.bin"
	cmp "$WORK/up.bin" "$WORK/expected.bin" || fail "upload differs from the flash"
	expect_eq "bytes uploaded" "$(summary "$WORK/trace.json" bytes_uploaded)" 65536
	expect_eq "final mode" "$(summary "$WORK/trace.json" final_mode)" dfu

	step "dfu-util DfuSe upload: option bytes (alt 1)"
	rm -f "$WORK/opt.bin"
	sim "$WORK/trace.json" --profile stm32f4-dfuse -- \
		dfu-util -d 0483:df11 -a 1 -s 0x1FFFC000:16 -U "$WORK/opt.bin"
	expect_eq "dfu-util exit status" "$RC" 0
	expect_eq "option bytes read" "$(wc -c <"$WORK/opt.bin" | tr -d ' ')" 16
}

# the GD32VF103 reports 512 x 2 KiB pages; dfu-util fixes the layout from the serial number
case_gd32() {
	step "dfu-util DfuSe download: gd32vf103-dfuse, 20000 bytes"
	make_image "$WORK/img.bin" 20000 14 0x0105
	sim "$WORK/trace.json" --profile gd32vf103-dfuse --flash-out "$WORK/flash.bin" -- \
		dfu-util -d 28e9:0189 -a 0 -s "$F4_BASE:leave" -D "$WORK/img.bin"
	expect_eq "dfu-util exit status" "$RC" 0
	same_prefix "$WORK/img.bin" "$WORK/flash.bin"
	# 1 KiB pages: dfu-util erased every page the image touches
	expect_eq "pages erased" "$(summary "$WORK/trace.json" erases)" 20
	expect_eq "writes to memory not erased" "$(summary "$WORK/trace.json" writes_not_erased)" 0
	expect_left_to_app "$WORK/trace.json" 261
}

# the bootloader pages are read-only: dfu-util refuses, and forced, the device does
case_stm32f1() {
	step "dfu-util from runtime: stm32f1-dfuse, application at 0x08004000"
	make_image "$WORK/img.bin" 30000 15 0x0207
	sim "$WORK/trace.json" --profile stm32f1-dfuse --flash-out "$WORK/flash.bin" -- \
		dfu-util -d 1209:0015,1209:0014 -E 1 -a 0 -s 0x08004000:leave -D "$WORK/img.bin"
	expect_eq "dfu-util exit status" "$RC" 0
	tail -c +16385 "$WORK/flash.bin" >"$WORK/app.bin"
	same_prefix "$WORK/img.bin" "$WORK/app.bin"
	expect_eq "detach requests" "$(summary "$WORK/trace.json" requests.detach)" 1
	expect_left_to_app "$WORK/trace.json" 519

	step "dfu-util forced into the bootloader pages: stm32f1-dfuse"
	sim "$WORK/trace.json" --profile stm32f1-dfuse --mode dfu --flash-out "$WORK/flash.bin" -- \
		dfu-util -d 1209:0014 -a 0 -s 0x08000000:force -D "$WORK/img.bin"
	[ "$RC" -ne 0 ] || fail "dfu-util wrote into read-only pages"
	expect_eq "final status" "$(summary "$WORK/trace.json" final_status)" 1
	expect_eq "bytes programmed" "$(summary "$WORK/trace.json" bytes_programmed)" 0
}

case_protection() {
	step "dfu-util against read protection: stm32f4-dfuse --read-protected"
	make_image "$WORK/img.bin" 4096 16
	sim "$WORK/trace.json" --profile stm32f4-dfuse --read-protected -- \
		dfu-util -d 0483:df11 -a 0 -s "$F4_BASE" -D "$WORK/img.bin"
	[ "$RC" -ne 0 ] || fail "dfu-util wrote to a read-protected device"
	expect_eq "final status" "$(summary "$WORK/trace.json" final_status)" 11

	step "dfu-util read unprotect: the device erases everything and comes back"
	make_image "$WORK/flash-in.bin" 65536 17
	sim "$WORK/trace.json" --profile stm32f4-dfuse --read-protected \
		--flash-in "$WORK/flash-in.bin" --flash-out "$WORK/flash.bin" -- \
		dfu-util -d 0483:df11 -a 0 -s "$F4_BASE:unprotect:force" -D "$WORK/img.bin"
	expect_eq "dfu-util exit status" "$RC" 0
	expect_eq "read protected" "$(summary "$WORK/trace.json" read_protected)" false
	expect_eq "mass erases" "$(summary "$WORK/trace.json" mass_erases)" 1
	"$PYTHON" "$HERE/usbsim-tool.py" erased "$WORK/flash.bin" || fail "flash not erased"

	step "dfu-util mass erase that reports 100 ms: stm32f4-dfuse --short-mass-erase-timeout"
	sim "$WORK/trace.json" --profile stm32f4-dfuse --short-mass-erase-timeout \
		--flash-in "$WORK/flash-in.bin" --flash-out "$WORK/flash.bin" -- \
		dfu-util -d 0483:df11 -a 0 -s "$F4_BASE:mass-erase:force" -D "$WORK/img.bin"
	expect_eq "dfu-util exit status" "$RC" 0
	expect_eq "mass erases" "$(summary "$WORK/trace.json" mass_erases)" 1
	# the host believed the 100 ms and asked again while the device was still erasing
	expect_ge "early polls" "$(summary "$WORK/trace.json" early_polls)" 1
	same_prefix "$WORK/img.bin" "$WORK/flash.bin"
}

# STM32L4: an erase reported as 10 ms for up to 24.47 ms of work, an early poll stalls. dfu-util
# 0.11 carries a workaround for exactly this (src/dfuse.c: a stalled poll is retried after the
# last poll timeout, three times at most). Real time: at a smaller scale no poll is early.
case_stm32l4() {
	step "dfu-util DfuSe download: stm32l4-dfuse stalling early polls during an erase"
	make_image "$WORK/img.bin" 6144 13 0x0234
	scale_saved=$SCALE
	SCALE=1
	sim "$WORK/trace.json" --profile stm32l4-dfuse --stall-early-poll-during-erase \
		--flash-out "$WORK/flash.bin" -- \
		dfu-util -d 0483:df11 -a 0 -s "$F4_BASE" -D "$WORK/img.bin"
	SCALE=$scale_saved
	expect_eq "dfu-util exit status" "$RC" 0
	same_prefix "$WORK/img.bin" "$WORK/flash.bin"
	expect_eq "erases" "$(summary "$WORK/trace.json" erases)" 3
	expect_ge "stalled polls" \
		"$("$PYTHON" "$HERE/usbsim-tool.py" count "$WORK/trace.json" getstatus stall)" 1
}

case "${1:-}" in
stm32l4)
	case_stm32l4
	;;
download)
	case_download ""
	case_download --bogus-set-address-timeout
	case_dfuse_file
	;;
upload)
	case_upload
	;;
gd32)
	case_gd32
	;;
stm32f1)
	case_stm32f1
	;;
protection)
	case_protection
	;;
*)
	echo "usage: $0 download|upload|gd32|stm32f1|stm32l4|protection" >&2
	exit 2
	;;
esac
echo "PASS"
