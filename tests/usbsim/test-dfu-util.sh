#!/bin/sh
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks the simulated DFU device with Debian's dfu-util, a client written elsewhere:
# byte-exact download and upload, runtime to DFU mode, and faults.
# Usage: test-dfu-util.sh download|upload|runtime|endings|faults
# shellcheck disable=SC1091
. "$(dirname "$0")/usbsim-test-lib.sh"

# dfu_file IMAGE VID PID OUT: a DFU 1.1 file with a suffix for the DFU mode IDs
dfu_file() {
	cp "$1" "$4"
	dfu-suffix -v "$2" -p "$3" -a "$4" >/dev/null
}

# dfu-util resets a device in dfuMANIFEST-WAIT-RESET itself. The device then comes back
# with its runtime descriptors, so the reset ioctl fails with ENODEV as the kernel's does
# (libusb: NOT_FOUND), and dfu-util 0.11 returns that code from its download: exit 74.
expect_download_status() {
	if [ "$1" = no ] && [ "$RC" = 74 ]; then
		expect_eq "mode after the reset" "$(summary "$WORK/trace.json" final_mode)" runtime
		return
	fi
	expect_eq "dfu-util exit status" "$RC" 0
}

# download PROFILE DFU_PID TOLERANT SIZE: from DFU mode; a device that is not manifestation
# tolerant is reset by dfu-util and then runs the new image
case_download() {
	profile=$1 pid=$2 tolerant=$3 size=$4
	step "dfu-util download: $profile, manifestation tolerant $tolerant, $size bytes"
	make_image "$WORK/img.bin" "$size" "$size" 0x0234
	dfu_file "$WORK/img.bin" 0x1209 "$pid" "$WORK/img.dfu"
	sim "$WORK/trace.json" --profile "$profile" --mode dfu --manifest-tolerant "$tolerant" \
		--flash-out "$WORK/flash.bin" -- dfu-util -d "1209:$pid" -D "$WORK/img.dfu"
	expect_download_status "$tolerant"
	same_prefix "$WORK/img.bin" "$WORK/flash.bin"
	expect_eq "bytes programmed" "$(summary "$WORK/trace.json" bytes_programmed)" "$size"
	expect_eq "manifestations" "$(summary "$WORK/trace.json" manifestations)" 1
	expect_eq "stalls" "$("$PYTHON" "$HERE/usbsim-tool.py" count "$WORK/trace.json" dnload stall)" 0
	if [ "$tolerant" = no ]; then
		# the reset after manifestation boots the new image, version from its header
		expect_eq "final mode" "$(summary "$WORK/trace.json" final_mode)" runtime
		expect_eq "runtime version" "$(summary "$WORK/trace.json" runtime_version)" 564
	else
		expect_eq "final state" "$(summary "$WORK/trace.json" final_state)" 2
	fi
}

case_upload() {
	profile=$1 size=$2
	step "dfu-util upload: $profile, $size bytes of flash"
	make_image "$WORK/flash-in.bin" "$size" 7
	rm -f "$WORK/up.bin"
	sim "$WORK/trace.json" --profile "$profile" --mode dfu --flash-size "$size" \
		--flash-in "$WORK/flash-in.bin" -- dfu-util -d 1209: -U "$WORK/up.bin"
	expect_eq "dfu-util exit status" "$RC" 0
	cmp "$WORK/up.bin" "$WORK/flash-in.bin" || fail "upload differs from the flash"
	expect_eq "bytes uploaded" "$(summary "$WORK/trace.json" bytes_uploaded)" "$size"

	step "dfu-util upload refused: $profile without canUpload"
	rm -f "$WORK/up.bin"
	sim "$WORK/trace.json" --profile "$profile" --mode dfu --can-upload no \
		--flash-in "$WORK/flash-in.bin" -- dfu-util -d 1209: -U "$WORK/up.bin"
	[ "$RC" -ne 0 ] || fail "dfu-util uploaded from a device without canUpload"
	expect_eq "bytes uploaded" "$(summary "$WORK/trace.json" bytes_uploaded)" 0
}

# runtime PROFILE RUNTIME_PID DFU_PID WILL_DETACH TOLERANT: download started in runtime mode
case_runtime_download() {
	profile=$1 rpid=$2 pid=$3 will_detach=$4 tolerant=$5
	step "dfu-util from runtime: $profile, willDetach $will_detach, tolerant $tolerant"
	make_image "$WORK/img.bin" 20000 3 0x0310
	dfu_file "$WORK/img.bin" 0x1209 "$pid" "$WORK/img.dfu"
	sim "$WORK/trace.json" --profile "$profile" --mode runtime --will-detach "$will_detach" \
		--manifest-tolerant "$tolerant" --flash-out "$WORK/flash.bin" -- \
		dfu-util -d "1209:$rpid,1209:$pid" -E 1 -D "$WORK/img.dfu"
	expect_download_status "$tolerant"
	same_prefix "$WORK/img.bin" "$WORK/flash.bin"
	expect_eq "detach requests" "$(summary "$WORK/trace.json" requests.detach)" 1
	expect_ge "re-enumerations" "$(summary "$WORK/trace.json" reenumerations)" 1
	if [ "$will_detach" = yes ] && [ "$tolerant" = yes ]; then
		# the device left by itself: dfu-util had no reason to reset it
		expect_eq "USB resets" "$(summary "$WORK/trace.json" usb_resets)" 0
	fi
	if [ "$tolerant" = no ]; then
		expect_eq "final mode" "$(summary "$WORK/trace.json" final_mode)" runtime
		expect_eq "runtime version" "$(summary "$WORK/trace.json" runtime_version)" 784
	fi
}

case_detach_only() {
	profile=$1 rpid=$2
	step "dfu-util -e: $profile"
	sim "$WORK/trace.json" --profile "$profile" -- dfu-util -d "1209:$rpid" -e
	expect_eq "dfu-util exit status" "$RC" 0
	expect_eq "detach requests" "$(summary "$WORK/trace.json" requests.detach)" 1
	expect_eq "USB resets" "$(summary "$WORK/trace.json" usb_resets)" 1
	expect_eq "final mode" "$(summary "$WORK/trace.json" final_mode)" dfu
}

# ending EXPECTED_RC OPTIONS...: dfu-util -R against one way a DFU 1.1 device ends the update
# (--manifest-tolerant, --manifest-ending, --app-dfu). Every one leaves the new image running;
# dfu-util 0.11 still reports the device it can no longer reach as an error: 74 when the
# status read after the download finds it gone (or its reset of a device in
# dfuMANIFEST-WAIT-RESET does, see above), 251 (LIBUSB_ERROR_NOT_FOUND) when its -R reset of a
# device that stayed in dfuIDLE does.
case_ending() {
	expected_rc=$1
	shift
	step "dfu-util -R against the ending: $*"
	make_image "$WORK/img.bin" 10000 3 0x0234
	dfu_file "$WORK/img.bin" 0x1209 0x0011 "$WORK/img.dfu"
	sim "$WORK/trace.json" --profile stm32f1-dfu --mode dfu "$@" \
		--flash-out "$WORK/flash.bin" -- dfu-util -d 1209:0011 -R -D "$WORK/img.dfu"
	expect_eq "dfu-util exit status" "$RC" "$expected_rc"
	same_prefix "$WORK/img.bin" "$WORK/flash.bin"
	expect_eq "manifestations" "$(summary "$WORK/trace.json" manifestations)" 1
	expect_eq "final mode" "$(summary "$WORK/trace.json" final_mode)" runtime
	expect_eq "runtime version" "$(summary "$WORK/trace.json" runtime_version)" 564
}

# fault SPEC: dfu-util must fail, and the trace must show the fault
case_fault() {
	spec=$1 outcome=$2
	step "dfu-util against fault $spec"
	make_image "$WORK/img.bin" 8192 5
	dfu_file "$WORK/img.bin" 0x1209 0x0011 "$WORK/img.dfu"
	sim "$WORK/trace.json" --mode dfu --fault "$spec" --timeout 60 -- \
		dfu-util -d 1209:0011 -D "$WORK/img.dfu"
	[ "$RC" -ne 0 ] || fail "dfu-util succeeded against fault $spec"
	[ "$RC" -ne 124 ] || fail "dfu-util hung on fault $spec"
	expect_eq "faults fired" "$(summary "$WORK/trace.json" faults_fired)" 1
	request=$(echo "$spec" | cut -d: -f2)
	expect_ge "$request with outcome $outcome" \
		"$("$PYTHON" "$HERE/usbsim-tool.py" count "$WORK/trace.json" "$request" "$outcome")" 1
}

# refused PROFILE MESSAGE OPTIONS...: the harness refuses an option the profile's model does
# not take, before any client runs
case_refused() {
	profile=$1 message=$2
	shift 2
	step "usbsim-run --profile $profile $*: refused"
	RC=0
	"$USBSIM_RUN" --profile "$profile" "$@" -- true 2>"$WORK/refused.txt" || RC=$?
	expect_eq "harness exit status" "$RC" 125
	grep -q "$message" "$WORK/refused.txt" || fail "no '$message' in: $(cat "$WORK/refused.txt")"
}

case "${1:-}" in
download)
	case_download stm32f1-dfu 0x0011 yes 10000
	case_download stm32f1-dfu 0x0011 no 65536
	case_download gd32vf103-dfu 0x0013 yes 30000
	case_download gd32vf103-dfu 0x0013 no 4096
	;;
upload)
	case_upload stm32f1-dfu 65536
	case_upload gd32vf103-dfu 131072
	;;
runtime)
	case_detach_only stm32f1-dfu 0x0010
	case_runtime_download stm32f1-dfu 0x0010 0x0011 no yes
	case_runtime_download gd32vf103-dfu 0x0012 0x0013 no no
	case_runtime_download stm32f1-dfu 0x0010 0x0011 yes yes
	;;
endings)
	case_ending 251 --manifest-tolerant yes
	case_ending 74 --manifest-tolerant no --manifest-ending wait-reset
	case_ending 74 --manifest-tolerant no --manifest-ending reset
	case_ending 74 --manifest-tolerant no --manifest-ending reset --runtime-pid 0x0011
	case_ending 74 --manifest-tolerant no --manifest-ending silent
	case_ending 74 --manifest-tolerant no --manifest-ending reset --app-dfu no
	case_refused stm32f4-dfuse "need a DFU 1.1 profile" --manifest-ending reset
	case_refused stm32h7-cobs "do not apply" --app-dfu no
	case_refused stm32h7-cobs "do not apply" --manifest-status OK
	case_refused stm32h7-cobs "do not apply" --stall-functional-descriptor-request
	case_refused stm32f1-dfu "need a DfuSe profile" --read-protected
	;;
faults)
	case_fault stall:dnload:3 stall
	case_fault errWRITE:dnload:2 ok
	case_fault unplug:dnload:4 unplugged
	case_fault errVERIFY:getstatus:4 ok
	case_fault timeout:getstatus:3 timeout
	;;
*)
	echo "usage: $0 download|upload|runtime|endings|faults" >&2
	exit 2
	;;
esac
echo "PASS"
