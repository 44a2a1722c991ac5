#!/bin/sh
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian package built from the tree: its files are where Debian's fwupd loads them, it
# depends on exactly the fwupd it was built against, and once installed with dpkg Debian's
# fwupdtool, with its stock paths, lists our plugins; once removed, it does not.
#   test-deb.sh BUILD_DIR
# The install runs in a private mount namespace whose /usr, /var and /etc are overlays of the
# machine's: dpkg really installs and removes the package, and nothing outside the test sees
# it (fwupd processes of other tests keep loading only their own modules).
set -eu
build=$(cd "$1" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
work="$build/package"
rm -rf "$work"
mkdir -p "$work/out"

fail() {
	echo "FAIL: $*"
	exit 1
}

"$top/contrib/build-deb" "$work/out" >/dev/null
deb=$(ls "$work"/out/fwupd-plugins-dfu_*.deb)
echo "built $(basename "$deb")"

version=$(pkg-config --modversion fwupd)
libdir_pkg=$(pkg-config --variable=libdir fwupd)/fwupd-$version
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's,^\.,,' >"$work/files"
for f in "$libdir_pkg/libfu_plugin_dfu_core.so" "$libdir_pkg/libfu_plugin_cobs.so" \
	"$libdir_pkg/libfu_plugin_nordic_dfu.so" /usr/share/fwupd/quirks.d/dfu-core.quirk \
	/usr/share/fwupd/quirks.d/cobs.quirk /usr/share/fwupd/quirks.d/nordic-dfu.quirk \
	/usr/share/doc/fwupd-plugins-dfu/dfu-core/README.md.gz \
	/usr/share/doc/fwupd-plugins-dfu/vendors.md.gz; do
	grep -qx "$f" "$work/files" || fail "the package lacks $f"
done
echo "files: modules in $libdir_pkg, quirks in /usr/share/fwupd/quirks.d, READMEs"
depends=$(dpkg-deb -f "$deb" Depends)
fwupd_version=$(dpkg-query -W -f='${Version}' fwupd)
case "$depends" in
*"fwupd (= $fwupd_version)"*) echo "depends: fwupd (= $fwupd_version)" ;;
*) fail "Depends does not pin fwupd $fwupd_version: $depends" ;;
esac

if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
	echo "SKIP: installing needs root and unshare"
	exit 77
fi
for d in usr var etc; do mkdir -p "$work/upper/$d" "$work/overlay-work/$d"; done
unshare --mount --propagation private sh -eu -c '
	work=$1 deb=$2 build=$3 top=$4
	for d in usr var etc; do
		mount -t overlay overlay -o "lowerdir=/$d,upperdir=$work/upper/$d,workdir=$work/overlay-work/$d" "/$d"
	done
	# fwupdtool as Debian installed it, with its own stock paths; only its lock and state
	# stay in the scratch directory
	mkdir -p "$work/state" "$work/cache" "$work/lock"
	plugins() {
		env -u FWUPD_LIBDIR_PKG -u FWUPD_LOCALSTATEDIR_QUIRKS STATE_DIRECTORY="$work/state" \
			CACHE_DIRECTORY="$work/cache" FWUPD_LOCKDIR="$work/lock" \
			fwupdtool get-plugins --json >"$work/plugins.json" 2>"$work/plugins.err"
		/usr/bin/python3 "$top/tests/package/installed_check.py" plugins "$work/plugins.json"
	}
	dpkg -i "$deb" >"$work/dpkg-install.log" 2>&1 || { cat "$work/dpkg-install.log"; exit 1; }
	echo "dpkg -i: $(dpkg-query -W -f="\${Package} \${Version} \${Status}" fwupd-plugins-dfu)"
	listed=$(plugins)
	echo "fwupdtool get-plugins lists: $listed"
	[ "$listed" = "cobs dfu_core nordic_dfu" ] || { cat "$work/plugins.err"; exit 1; }
	# the installed quirks claim the STM32 system bootloader for dfu_core, with their flags
	"$build/tests/usbsim/usbsim-run" --profile stm32f4-dfuse --time-scale 0.05 -- \
		env -u FWUPD_LIBDIR_PKG -u FWUPD_LOCALSTATEDIR_QUIRKS STATE_DIRECTORY="$work/state" \
		CACHE_DIRECTORY="$work/cache" FWUPD_LOCKDIR="$work/lock" \
		fwupdtool get-devices --json >"$work/devices.json" 2>"$work/devices.err"
	/usr/bin/python3 "$top/tests/package/installed_check.py" device "$work/devices.json" ||
		{ tail -n 20 "$work/devices.err"; exit 1; }
	dpkg --purge fwupd-plugins-dfu >"$work/dpkg-purge.log" 2>&1 || { cat "$work/dpkg-purge.log"; exit 1; }
	listed=$(plugins)
	[ -z "$listed" ] || { echo "still listed after dpkg --purge: $listed"; exit 1; }
	echo "dpkg --purge: gone from fwupdtool get-plugins"
' sh "$work" "$deb" "$build" "$top" || fail "install test"
rm -rf "$work/upper" "$work/overlay-work"
echo "PASS"
