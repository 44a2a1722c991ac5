#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The path LVFS and GNOME Software take: Debian's fwupd daemon, loading our modules from the
build tree, gets its firmware from a download remote. The cabinet contrib/make-cabinet made of
the vendor's artifact is signed and listed in the remote's metadata as LVFS does it, with a
throw-away certificate the daemon trusts (and fwupd's default OnlyTrusted), and served by an
HTTP server on 127.0.0.1; then the real fwupdmgr runs refresh, get-updates, update,
get-devices, get-updates and get-history.

  test_remote.py --build BUILD CASE

Each case checks that the release is offered with its version, that the update downloaded
the cabinet from the server and left the image in the flash byte for byte, the version the
device shows after, that nothing more is offered, both again once the daemon has restarted,
the history the daemon recorded, and that no process of the run (daemon, HTTP server, polkit,
bus) is left.
"""

import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
sys.path.insert(0, HERE)

from e2e_common import run_case_cli, check  # noqa: E402
from remote_metadata import build_metadata, sign  # noqa: E402
from test_daemon import (DEVICES, Setup, check_history, make_cabinet,  # noqa: E402
                         release_version, run_client, tail)

REMOTE_ID = "usbsim"

# One device of each plugin, as test_daemon.py sets it up, and what changes when the release
# comes from a remote: fwupd offers only a release newer than the device's version, so every
# case is a real upgrade whose version the device must show after (version_after None: the
# device leaves for an application fwupd cannot see, and nothing of it is offered any more).
CASES = {
    # DFU 1.1 in runtime mode, 1.0 -> 1.2: the device comes back in runtime mode with the
    # new image's bcdDevice
    "dfu-stm32f1": DEVICES["dfu-stm32f1"],
    # the COBS bootloader, 1.0.0 -> 1.2.0, resetting after bye into the bootloader again (same
    # IDs, a new address) without the version query: the protocol reads no version back, so
    # the device must show the version of the release it was updated with, also after the
    # daemon restarts, or fwupd's version check fails and the same release stays on offer
    "cobs-stm32h7": dict(DEVICES["cobs-stm32h7"],
                         run=dict(DEVICES["cobs-stm32h7"]["run"],
                                  extra=["--cobs-after-bye", "bootloader"]),
                         cabinet=["--instance-id", "USB\\VID_1209&PID_0020", "--protocol",
                                  "cobs", "--version", "1.2.0"],
                         version_after="1.2.0"),
    # the nRF52840 Dongle's bootloader, which comes back after the application image and
    # reports the package's application version (7)
    "nordic-nrf52840": DEVICES["nordic-nrf52840"],
    # an nRF52 Secure DFU bootloader on a UART behind a USB-UART bridge, holding application
    # version 6: the port stays, and the bootloader answers on it again with version 7. A
    # UART device is known by its part, not by the bridge's IDs
    "nordic-nrf52-uart": dict(
        DEVICES["nordic-nrf52840"],
        nrf=dict(DEVICES["nordic-nrf52840"]["nrf"], profile="nrf52-uart",
                 sim_args=["--app-valid", "--app-version", "6"]),
        cabinet=["--instance-id", "NRFDFU\\PART_52840&VARIANT_AAD0"]),
    # the Dongle, whose new application has no USB: after the last image the device is gone
    # for good, with the shipped quirk and no extra flag; the update is done all the same
    "nordic-nrf52840-app-no-usb": dict(
        DEVICES["nordic-nrf52840"],
        nrf=dict(DEVICES["nordic-nrf52840"]["nrf"], sim_args=["--app-runs", "silent"]),
        version_after=None),
}


def http_requests(path):
    """[(method, path, status)] of the HTTP server's access log."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return []
    return [(m.group(1), m.group(2), int(m.group(3)))
            for m in re.finditer(r'"(GET|HEAD|POST) (\S+) HTTP/[0-9.]+" (\d+)', text)]


def step_of(result, name):
    steps = [s for s in result.get("steps", []) if s["name"] == name]
    return steps[0] if steps else None


def check_step(result, name, log):
    step = step_of(result, name)
    check(step is not None, "fwupdmgr %s was not run:\n%s" % (name, tail(log)))
    check(step["rc"] == 0, "fwupdmgr %s failed (%d):\n%s%s\n%s" %
          (" ".join(step["args"]), step["rc"], step["stdout"][-3000:], step["stderr"][-2000:],
           tail(log)))
    return step


def run_case(build, name):
    spec = CASES[name]
    setup = Setup(build, "remote-" + name, spec)
    cab = make_cabinet(setup, spec)
    version_new = release_version(setup)

    # what LVFS would publish for this one cabinet
    served = os.path.join(setup.dir, "remote")
    keyring = os.path.join(setup.dir, "keyring")
    metadata = build_metadata([cab], served, keyring, origin=REMOTE_ID)
    cert = sign(metadata, keyring)
    print("remote: %s, signed with the throw-away certificate %s" % (metadata, cert))

    result, log = run_client(build, setup, spec, ["--remote", served, "--trust", cert])
    state = os.path.join(setup.dir, "daemon")

    before = result["before"]
    check(before[0]["Version"] != version_new,
          "the device already shows %s before the update" % version_new)

    # refresh fetched the signed catalogue and the metadata from the server, and the daemon
    # accepted them: the release is offered to the device with its version
    check_step(result, "refresh", log)
    requests = http_requests(os.path.join(state, "http.log"))
    for path in ("/firmware.xml.gz.jcat", "/firmware.xml.gz"):
        check(("GET", path, 200) in requests, "refresh did not download %s: %r" %
              (path, requests))
    check_step(result, "get-updates", log)
    offered = result.get("offered", {})
    hidden = ""
    if "non-generic-message" in (before[0].get("RequestFlags") or []):
        # fu_engine_get_upgrades() skips such a device for a client that does not announce
        # it can show such requests, as fwupdmgr without a terminal does not
        hidden = ("; the device declares the request flag non-generic-message, which hides "
                  "it from a client that cannot show such requests (fwupdmgr without a "
                  "terminal, unattended updates): a request that only informs can allow the "
                  "generic message instead")
    check(list(offered.values()) == [[version_new]],
          "get-updates offers %r to the %s device, expected [%s]%s" %
          (offered, setup.plugin, version_new, hidden))

    update = check_step(result, "update", log)
    cabinet = "/" + os.path.basename(cab)
    check(("GET", cabinet, 200) in requests, "update did not download %s from the remote: %r"
          % (cabinet, requests))
    check("Successfully installed firmware" in update["stdout"],
          "fwupdmgr update did not say it installed the firmware:\n%s" %
          update["stdout"][-2000:])

    setup.check_flashed()

    after = result.get("after", [])
    if spec["version_after"] is not None:
        # the release's own version: fwupd itself only refuses a device left at the old one
        check(after and after[0]["Version"] == version_new,
              "version after the update %r, expected the release's %s" %
              ([d["Version"] for d in after], version_new))
    else:
        check(not after, "the device should have left for its application: %r" % after)
        # done, and fwupdmgr says the version was not read back
        check(re.search(r"version\b[^.]*\bnot\b[^.]*\bread back", update["stdout"]),
              "fwupdmgr update did not say the version was not read back:\n%s" %
              update["stdout"][-2000:])

    # nothing more to offer: fwupdmgr says there are no updates (exit 2, nothing to do) and,
    # for a device that came back, that it has the latest firmware the remote has; with the
    # device gone, that nothing is updatable
    check(not result.get("offered_after"), "get-updates still offers %r after the update" %
          result.get("offered_after"))
    again = step_of(result, "get-updates-after-text")
    nothing = "No updates available" if after else "No updatable devices"
    check(again and again["rc"] == 2 and nothing in again["stdout"],
          "get-updates after the update did not say %r: %r" % (nothing, again))
    if after:
        latest = again["stdout"].split("latest available firmware version:")[-1]
        check(after[0]["Name"] in latest.split("No updates available")[0],
              "get-updates does not list %r among the devices with the latest firmware:\n%s"
              % (after[0]["Name"], again["stdout"]))

    # the same once the daemon has started again: the version is not lost, nothing is offered
    restarted = result.get("after_restart", [])
    if spec["version_after"] is not None:
        check(restarted and restarted[0]["Version"] == version_new,
              "version after the daemon restarted %r, expected the release's %s" %
              ([d["Version"] for d in restarted], version_new))
    check(not result.get("offered_after_restart"),
          "get-updates offers %r again once the daemon has restarted" %
          result.get("offered_after_restart"))

    # the history names the device, the old version, the remote's release and success
    release = check_history(result, setup, version_new)
    check(release.get("RemoteId") == REMOTE_ID, "history's release came from remote %r, not %s"
          % (release.get("RemoteId"), REMOTE_ID))
    # trusted as an LVFS release is, with fwupd's default OnlyTrusted: the metadata by its
    # signed catalogue, the payload by the signature in the cabinet
    for flag in ("trusted-metadata", "trusted-payload"):
        check(flag in (release.get("Flags") or []), "history's release is not %s: %r" %
              (flag, release.get("Flags")))


def main():
    return run_case_cli(CASES, lambda case, args: run_case(args.build, args.case))


if __name__ == "__main__":
    sys.exit(main())
