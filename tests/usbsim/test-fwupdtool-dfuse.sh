#!/bin/sh
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks the stm32f4-dfuse model with Debian's fwupdtool and its built-in dfu plugin, a client
# written elsewhere: install-blob of a DfuSe file (UM0391), byte-exact, then the leave to the
# application. fwupd 2.0.20 reads the functional descriptor only after alt 0: with the
# descriptor where the STM32 bootloader has it (after the last alt) it falls back to 64-byte
# blocks; both placements are run.
# Usage: test-fwupdtool-dfuse.sh install
# shellcheck disable=SC1091
. "$(dirname "$0")/usbsim-test-lib.sh"

fwupdtool_client

# install SIZE PLACEMENT_OPTION
case_install() {
	size=$1 placement=$2
	step "fwupdtool install-blob DfuSe: stm32f4-dfuse, $size bytes ${placement:-(descriptor after the last alt)}"
	make_image "$WORK/img.bin" "$size" "$size" 0x0412
	"$PYTHON" "$HERE/usbsim-tool.py" dfuse-file "$WORK/img.bin" 0x08000000 0x0483 0xdf11 \
		"$WORK/img.dfu"
	# shellcheck disable=SC2086
	sim "$WORK/trace.json" --profile stm32f4-dfuse $placement --flash-out "$WORK/flash.bin" -- \
		sh "$WORK/client.sh" 0x0483 0xdf11 "$WORK/img.dfu"
	expect_eq "fwupdtool exit status" "$RC" 0
	same_prefix "$WORK/img.bin" "$WORK/flash.bin"
	expect_eq "writes to memory not erased" "$(summary "$WORK/trace.json" writes_not_erased)" 0
	expect_eq "final mode" "$(summary "$WORK/trace.json" final_mode)" runtime
	expect_eq "runtime version" "$(summary "$WORK/trace.json" runtime_version)" 1042
	"$PYTHON" "$HERE/usbsim-tool.py" block-sizes "$WORK/trace.json"
}

# fwupd numbers its blocks on from the first and sends a short last block: under AN2662's
# reading (the request's length is the block size) that block lands short of its place, under
# ST's USB device library's (wTransferSize) it lands right
case_short_last_block() {
	step "fwupdtool install-blob DfuSe: short last block, block stride wLength (AN2662)"
	make_image "$WORK/img.bin" 20000 20000 0x0412
	"$PYTHON" "$HERE/usbsim-tool.py" dfuse-file "$WORK/img.bin" 0x08000000 0x0483 0xdf11 \
		"$WORK/img.dfu"
	sim "$WORK/trace.json" --profile stm32f4-dfuse --func-desc-every-alt \
		--flash-out "$WORK/flash.bin" -- sh "$WORK/client.sh" 0x0483 0xdf11 "$WORK/img.dfu"
	[ "$RC" -ne 0 ] || fail "fwupd's short last block was expected to land short of its place"
	expect_eq "writes to memory not erased" "$(summary "$WORK/trace.json" writes_not_erased)" 1
}

case "${1:-}" in
install)
	case_install 16384 --func-desc-every-alt
	case_install 20000 "--func-desc-every-alt --block-stride transfer-size"
	case_install 8192 ""
	case_short_last_block
	;;
*)
	echo "usage: $0 install" >&2
	exit 2
	;;
esac
echo "PASS"
