#!/bin/sh
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
# The Debian package built from the tree: its files are where Debian's fwupd loads them, it
# depends on the upstream fwupd version it was built against (any Debian revision of it, no
# other version), lintian finds nothing to warn about, and once installed with dpkg Debian's
# fwupdtool, with its stock paths, lists our plugins and fwupd-dfu-make-cabinet runs; once
# removed, they are gone. Last, stand-in fwupd packages show apt finding the package's
# dependencies met by a later Debian revision of that fwupd and unmet by the next version.
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
	/usr/share/doc/fwupd-plugins-dfu/vendors.md.gz /usr/bin/fwupd-dfu-make-cabinet \
	/usr/share/man/man1/fwupd-dfu-make-cabinet.1.gz; do
	grep -qx "$f" "$work/files" || fail "the package lacks $f"
done
# the modules only in the directory of the fwupd version they were built for: a fwupd of any
# other version loads modules from its own fwupd-<version>/ and never sees them
grep '\.so$' "$work/files" | grep -vx "$libdir_pkg/libfu_plugin_[a-z_]*\.so" &&
	fail "modules outside $libdir_pkg"
echo "files: modules in $libdir_pkg only, quirks in /usr/share/fwupd/quirks.d, READMEs," \
	"fwupd-dfu-make-cabinet and its manual page"

# Depends: the upstream version, from its first Debian revision to the next upstream version
depends=$(dpkg-deb -f "$deb" Depends)
fwupd_version=$(dpkg-query -W -f='${Version}' fwupd)
next=$(echo "$version" | awk -F. -v OFS=. '{ $NF = $NF + 1; print }')
for rel in "fwupd (>= $version)" "fwupd (<< $next~)"; do
	case "$depends" in
	*"$rel"*) ;;
	*) fail "Depends lacks $rel: $depends" ;;
	esac
done
case "$depends" in
*"fwupd (="*) fail "Depends pins one Debian revision: $depends" ;;
esac
echo "depends: fwupd (>= $version), fwupd (<< $next~)"
# which fwupd versions satisfy both relations, as dpkg compares them
satisfies() {
	dpkg --compare-versions "$1" ge "$version" && dpkg --compare-versions "$1" lt "$next~"
}
for v in "$fwupd_version" "$version-1" "$fwupd_version+1" "$version-99" "$version+dfsg-1"; do
	satisfies "$v" || fail "fwupd $v, a Debian revision of $version, does not satisfy Depends"
	echo "  fwupd $v satisfies it"
done
for v in "$next-1" "$next~rc1-1" "$next" "${version%.*}.$((${version##*.} - 1))-1"; do
	satisfies "$v" && fail "fwupd $v satisfies Depends"
	echo "  fwupd $v does not"
done

# lintian: no error or warning; a tag kept is overridden with its reason in debian/
if command -v lintian >/dev/null; then
	lintian --fail-on error,warning --display-info "$deb" >"$work/lintian.log" 2>&1 ||
		{ cat "$work/lintian.log"; fail "lintian"; }
	echo "lintian: no error or warning; info tags and overridden tags:"
	grep -v 'running with root privileges' "$work/lintian.log" | sed 's/^/  /'
	{ lintian --show-overrides "$deb" 2>&1 || true; } | grep '^O: ' | sed 's/^/  /'
fi

# stand-in fwupd packages (no files): a later Debian revision, and the next upstream version
arch=$(dpkg --print-architecture)
for v in "$fwupd_version+1" "$next-1"; do
	d="$work/standin-$v"
	mkdir -p "$d/DEBIAN"
	printf 'Package: fwupd\nVersion: %s\nArchitecture: %s\nMaintainer: %s\nDescription: %s\n' \
		"$v" "$arch" "nobody <nobody@localhost>" "stand-in for fwupd $v" >"$d/DEBIAN/control"
	dpkg-deb --build "$d" "$work/fwupd-standin_$v.deb" >/dev/null
done

if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
	echo "SKIP: installing needs root and unshare"
	exit 77
fi
for d in usr var etc; do mkdir -p "$work/upper/$d" "$work/overlay-work/$d"; done
unshare --mount --propagation private sh -eu -c '
	work=$1 deb=$2 build=$3 top=$4 next=$5 fwupd_version=$6
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
	# the tool for vendors, installed as a command whose --help documents every option
	fwupd-dfu-make-cabinet --help >"$work/make-cabinet-help.txt"
	/usr/bin/python3 "$top/tests/package/installed_check.py" help "$work/make-cabinet-help.txt"
	dpkg --purge fwupd-plugins-dfu >"$work/dpkg-purge.log" 2>&1 || { cat "$work/dpkg-purge.log"; exit 1; }
	listed=$(plugins)
	[ -z "$listed" ] || { echo "still listed after dpkg --purge: $listed"; exit 1; }
	[ ! -e /usr/bin/fwupd-dfu-make-cabinet ] || { echo "make-cabinet left after purge"; exit 1; }
	echo "dpkg --purge: gone from fwupdtool get-plugins, fwupd-dfu-make-cabinet gone"
	# with the package installed, a later Debian revision of this fwupd keeps every dependency
	# met, the next upstream version breaks the package: dpkg installs what it is given
	# (the stand-ins replace fwupd, so this comes last), apt-get check judges the result as
	# apt would before an upgrade
	dpkg -i "$deb" >"$work/dpkg-install.log" 2>&1 || { cat "$work/dpkg-install.log"; exit 1; }
	apt-get check >"$work/apt-check.log" 2>&1 || { cat "$work/apt-check.log"; exit 1; }
	dpkg -i "$work/fwupd-standin_$fwupd_version+1.deb" >"$work/dpkg-rev.log" 2>&1 ||
		{ cat "$work/dpkg-rev.log"; exit 1; }
	apt-get check >"$work/apt-check-rev.log" 2>&1 ||
		{ cat "$work/apt-check-rev.log"; echo "fwupd $fwupd_version+1 breaks the package"; exit 1; }
	echo "fwupd $fwupd_version+1 installed: apt-get check finds every dependency met"
	dpkg -i "$work/fwupd-standin_$next-1.deb" >"$work/dpkg-next.log" 2>&1 ||
		{ cat "$work/dpkg-next.log"; exit 1; }
	if apt-get check >"$work/apt-check-next.log" 2>&1; then
		echo "fwupd $next-1 installed and apt-get check finds nothing unmet"; exit 1
	fi
	grep "fwupd-plugins-dfu : Depends: fwupd (<" "$work/apt-check-next.log" ||
		{ cat "$work/apt-check-next.log"; exit 1; }
	echo "fwupd $next-1 installed: apt-get check finds the package broken, as above"
' sh "$work" "$deb" "$build" "$top" "$next" "$fwupd_version" || fail "install test"
rm -rf "$work/upper" "$work/overlay-work"
echo "PASS"
