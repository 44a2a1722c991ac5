# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared helpers of the usbsim tool tests; sourced by test-*.sh.
# shellcheck shell=sh
set -eu

: "${USBSIM_RUN:?USBSIM_RUN must point at usbsim-run}"
: "${USBSIM_TMPDIR:?USBSIM_TMPDIR must point into the build tree}"
SCALE=${USBSIM_TIME_SCALE:-0.02}
PYTHON=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$USBSIM_TMPDIR"
WORK=$(mktemp -d "$USBSIM_TMPDIR/test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

step() {
	echo "== $*"
}

# make_image FILE SIZE SEED [VERSION]: deterministic bytes, with an application version
# (u16 little-endian at 0x100) when VERSION is given
make_image() {
	"$PYTHON" "$HERE/usbsim-tool.py" image "$@"
}

# same_prefix IMAGE FLASH: FLASH starts with IMAGE and is erased (0xFF) after it
same_prefix() {
	"$PYTHON" "$HERE/usbsim-tool.py" compare "$1" "$2" || fail "$2 does not hold $1"
}

# summary TRACE KEY: a field of the summary record (requests.NAME for a request count)
summary() {
	"$PYTHON" "$HERE/usbsim-tool.py" summary "$1" "$2"
}

# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# expect_ge WHAT ACTUAL MINIMUM
expect_ge() {
	[ "$2" -ge "$3" ] || fail "$1: got '$2', expected at least '$3'"
}

# run the harness; usage: sim TRACE [OPTIONS...] -- CLIENT...; sets RC
sim() {
	trace=$1
	shift
	set +e
	started=$(date +%s.%N)
	"$USBSIM_RUN" --time-scale "$SCALE" --trace "$trace" "$@"
	RC=$?
	WALL=$(echo "$started $(date +%s.%N)" | awk '{printf "%.3f", $2 - $1}')
	set -e
	echo "(exit status $RC, client wall time ${WALL} s at time scale $SCALE)"
}

# fwupdtool_client: fwupdtool as root without the daemon or D-Bus keeps its state in the test's
# directory; writes $WORK/client.sh, the client run under the harness, which enumerates, picks
# the device by its IDs and installs: usage: sh client.sh VID PID FILE
fwupdtool_client() {
	command -v fwupdtool >/dev/null || fail "fwupdtool is not installed"
	export STATE_DIRECTORY="$WORK/state" CACHE_DIRECTORY="$WORK/cache"
	export FWUPD_LOCKDIR="$WORK/lock"
	mkdir -p "$STATE_DIRECTORY" "$CACHE_DIRECTORY" "$FWUPD_LOCKDIR"
	cat >"$WORK/client.sh" <<CLIENT
#!/bin/sh
set -e
fwupdtool get-devices --json --plugins dfu --no-safety-check >"$WORK/devices.json"
id=\$($PYTHON "$HERE/usbsim-tool.py" device-id "$WORK/devices.json" "\$1" "\$2")
echo "installing onto \$id"
fwupdtool install-blob "\$3" "\$id" --plugins dfu --force --no-safety-check --no-reboot-check
CLIENT
}
