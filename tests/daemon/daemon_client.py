#!/usr/bin/python3
# Copyright 2026 The fwupd-dfu-plugins authors
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The client side of a daemon run, started by usbsim-run under the device simulation.

Starts what a user's system has: a system bus (a private dbus-daemon), polkit
(python3-dbusmock's polkitd template) and Debian's fwupd daemon loading our modules and
quirks; then runs the real fwupdmgr the way a user does: get-devices, install a cabinet,
get-devices, get-history; and, asked to, records fwupd's emulation data of the update.
With --remote, the firmware comes the way LVFS delivers it instead: an HTTP server on
127.0.0.1 serves a directory made by remote_metadata.py, the daemon has it as a download
remote and trusts its signing certificate, and fwupdmgr runs refresh, get-updates, update,
get-devices, get-updates (nothing more to offer), the same two again after the daemon
restarts, and get-history.
Writes what it saw as JSON for the test outside. Every process it starts is stopped before
it exits, and dies with it if the harness kills it (PR_SET_PDEATHSIG).
"""

import argparse
import ctypes
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FWUPD_DAEMON = "/usr/libexec/fwupd/fwupd"
PR_SET_PDEATHSIG = 1

# every action Debian's fwupd defines is allowed, as an administrator's polkit rule would
FWUPD_POLKIT_POLICY = "/usr/share/polkit-1/actions/org.freedesktop.fwupd.policy"


def polkit_actions():
    with open(FWUPD_POLKIT_POLICY, encoding="utf-8") as f:
        return re.findall(r'<action id="([^"]+)"', f.read())


SYSTEM_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC
 "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <keep_umask/>
  <listen>unix:tmpdir=/tmp</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# OnlyTrusted=false: fwupd installs a cabinet only if its Jcat signature chains to a key in
# /etc/pki/fwupd, which LVFS adds when it signs an upload; a cabinet straight from
# make-cabinet is unsigned, and fwupd's documented way to install one is this setting in
# the daemon's own configuration (a private one here: the system's is never touched).
# A --remote run keeps fwupd's default (only trusted payloads): its cabinets are signed.
# No remotes but the one a --remote run adds: nothing else is downloaded.
FWUPD_CONF = """[fwupd]
IdleTimeout=0
UpdateMotd=false
"""
FWUPD_CONF_UNSIGNED = "OnlyTrusted=false\n"


# A download remote as LVFS's own configuration has it, on the local server. The ID is the
# file name up to its first dot (fwupd rewrites the URIs of a remote whose ID names LVFS).
REMOTE_ID = "usbsim"
REMOTE_CONF = """[fwupd Remote]
Enabled=true
Title=Simulated devices' firmware
MetadataURI=http://127.0.0.1:%d/firmware.xml.gz
ApprovalRequired=false
AutomaticReports=false
"""


def die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def without_preload(env):
    # only the daemon talks to the simulated USB device: the bus, polkit and fwupdmgr run
    # outside umockdev's preload
    env = dict(env)
    env.pop("LD_PRELOAD", None)
    return env


class Session:
    def __init__(self, state, build, log):
        self.state = state
        self.build = build
        self.log = log
        self.procs = []
        self.env = dict(os.environ, NO_COLOR="1", LANG="C.UTF-8")
        # a command the daemon runs under (test_emulation.py: umockdev-run)
        self.daemon_wrapper = []

    def spawn(self, cmd, env, **kwargs):
        proc = subprocess.Popen(cmd, env=env, preexec_fn=die_with_parent, **kwargs)
        self.procs.append(proc)
        return proc

    def start_bus(self):
        conf = os.path.join(self.state, "system-bus.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(SYSTEM_BUS_CONFIG)
        self.bus_log = open(os.path.join(self.state, "system-bus.log"), "w",  # noqa: SIM115
                            encoding="utf-8")
        bus = self.spawn(["dbus-daemon", "--nofork", "--print-address=1",
                          "--config-file=" + conf], without_preload(self.env),
                         stdout=subprocess.PIPE, stderr=self.bus_log, text=True)
        address = bus.stdout.readline().strip()
        if not address:
            raise RuntimeError("dbus-daemon gave no address")
        self.env["DBUS_SYSTEM_BUS_ADDRESS"] = address

    def start_polkit(self):
        self.spawn(["/usr/bin/python3", "-m", "dbusmock", "--system", "--template", "polkitd"],
                   without_preload(self.env), stdout=subprocess.DEVNULL)
        self.wait_for_name("org.freedesktop.PolicyKit1", 10)
        subprocess.run(["gdbus", "call", "--system", "--dest", "org.freedesktop.PolicyKit1",
                        "--object-path", "/org/freedesktop/PolicyKit1/Authority",
                        "--method", "org.freedesktop.DBus.Mock.SetAllowed",
                        str(polkit_actions())], env=without_preload(self.env), check=True,
                       stdout=subprocess.DEVNULL)

    def start_http(self, directory):
        """Serves directory on 127.0.0.1, on a port the kernel picks; returns the port.
        Each request the server answers is logged in http.log."""
        self.http_log = open(os.path.join(self.state, "http.log"), "w",  # noqa: SIM115
                             encoding="utf-8")
        server = self.spawn(["/usr/bin/python3", "-u", "-m", "http.server", "--bind",
                             "127.0.0.1", "--directory", directory, "0"],
                            without_preload(self.env), stdout=subprocess.PIPE,
                            stderr=self.http_log, text=True)
        line = server.stdout.readline()
        match = re.search(r"port (\d+)", line)
        if not match:
            raise RuntimeError("the HTTP server gave no port: %r" % line)
        # fwupdmgr downloads with libcurl, which a proxy in the environment would divert
        self.env["no_proxy"] = self.env["NO_PROXY"] = "127.0.0.1"
        return int(match.group(1))

    def wait_for_name(self, name, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = subprocess.run(["gdbus", "call", "--system", "--dest", "org.freedesktop.DBus",
                                   "--object-path", "/org/freedesktop/DBus", "--method",
                                   "org.freedesktop.DBus.NameHasOwner", name],
                                  env=without_preload(self.env), capture_output=True, text=True)
            if "true" in proc.stdout:
                return
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError("%s exited with %s before %s appeared" %
                                       (p.args[0], p.returncode, name))
            time.sleep(0.05)
        raise RuntimeError("%s did not appear on the bus within %d s" % (name, timeout))

    def start_daemon(self, modules, quirks, remote_port=None, trust=None):
        dirs = {}
        for name in ("config", "config/remotes.d", "localconf", "state", "cache", "lock",
                     "metadata", "remotes", "quirks", "vendor-ids"):
            dirs[name] = os.path.join(self.state, name)
            os.makedirs(dirs[name], exist_ok=True)
        with open(os.path.join(dirs["config"], "fwupd.conf"), "w", encoding="utf-8") as f:
            f.write(FWUPD_CONF + (FWUPD_CONF_UNSIGNED if remote_port is None else ""))
        # the daemon refuses a world-readable configuration
        os.chmod(os.path.join(dirs["config"], "fwupd.conf"), 0o640)
        for quirk in quirks:
            shutil.copy(quirk, dirs["quirks"])
        extra = {}
        if remote_port is not None:
            with open(os.path.join(dirs["config"], "remotes.d", REMOTE_ID + ".conf"), "w",
                      encoding="utf-8") as f:
                f.write(REMOTE_CONF % remote_port)
            # the daemon verifies metadata against the certificates in
            # FWUPD_SYSCONFDIR/pki/fwupd-metadata and cabinets against pki/fwupd, where
            # Debian puts LVFS's CA: the run's own directory, so only this one is trusted
            for kind in ("fwupd-metadata", "fwupd"):
                pki = os.path.join(self.state, "sysconf", "pki", kind)
                os.makedirs(pki, exist_ok=True)
                shutil.copy(trust, os.path.join(pki, "usbsim.pem"))
            extra["FWUPD_SYSCONFDIR"] = os.path.join(self.state, "sysconf")
        env = dict(self.env, **extra,
                   # the same as tests/run-fwupdtool: our modules beside fwupd's own, our
                   # quirks, and every state and cache directory in the run's directory
                   FWUPD_LIBDIR_PKG=",".join(modules),
                   FWUPD_LOCALSTATEDIR_QUIRKS=dirs["quirks"],
                   STATE_DIRECTORY=dirs["state"],
                   CACHE_DIRECTORY=dirs["cache"],
                   FWUPD_LOCKDIR=dirs["lock"],
                   # an empty ID database: device names must not depend on whether the
                   # machine has hwdata's usb.ids
                   FWUPD_DATADIR_VENDOR_IDS=dirs["vendor-ids"],
                   CONFIGURATION_DIRECTORY=dirs["config"],
                   LOCALCONF_DIRECTORY=dirs["localconf"],
                   FWUPD_LOCALSTATEDIR_METADATA=dirs["metadata"],
                   FWUPD_LOCALSTATEDIR_REMOTES=dirs["remotes"])
        self.daemon_env = env
        self.run_daemon()

    def run_daemon(self):
        self.daemon_log = open(self.log, "a", encoding="utf-8")  # noqa: SIM115
        cmd = self.daemon_wrapper + [FWUPD_DAEMON, "--verbose", "--no-timestamp"]
        self.daemon = self.spawn(cmd, self.daemon_env,
                                 stdout=self.daemon_log, stderr=subprocess.STDOUT)
        self.wait_for_name("org.freedesktop.fwupd", 60)

    def restart_daemon(self):
        self.daemon.terminate()
        self.daemon.wait(timeout=10)
        self.procs.remove(self.daemon)
        self.daemon_log.close()
        self.run_daemon()

    def fwupdmgr(self, args, timeout, stream=False):
        cmd = ["fwupdmgr"] + args
        env = without_preload(self.env)
        if not stream:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
            return proc.returncode, proc.stdout, proc.stderr
        # let a person watch fwupdmgr's own progress, and keep it for the result
        out = []
        with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) as proc:
            for line in proc.stdout:
                sys.stderr.write(line)
                sys.stderr.flush()
                out.append(line)
            rc = proc.wait(timeout=timeout)
        return rc, "".join(out), ""

    def stop(self):
        """Stops everything, newest first: fwupd as a service manager would (SIGTERM, then
        SIGKILL), then the HTTP server, polkit and the bus."""
        stopped = []
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            stopped.append({"cmd": proc.args[0], "pid": proc.pid, "rc": proc.returncode})
        for log in (getattr(self, "daemon_log", None), getattr(self, "bus_log", None),
                    getattr(self, "http_log", None)):
            if log:
                log.close()
        return stopped


def default_modules(build):
    """fwupd's own plugin directory and each of the build's plugin directories."""
    libdir_pkg = subprocess.run(["pkg-config", "--variable=libdir", "fwupd"], check=True,
                                capture_output=True, text=True).stdout.strip()
    version = subprocess.run(["pkg-config", "--modversion", "fwupd"], check=True,
                             capture_output=True, text=True).stdout.strip()
    modules = [os.path.join(libdir_pkg, "fwupd-" + version)]
    plugins_dir = os.path.join(build, "plugins")
    for sub in sorted(os.listdir(plugins_dir)):
        path = os.path.join(plugins_dir, sub)
        if any(f.startswith("libfu_plugin_") and f.endswith(".so") for f in os.listdir(path)):
            modules.append(path)
    return modules


def default_quirks():
    # the same quirk files as tests/run-fwupdtool
    return sorted(glob.glob(os.path.join(TOP, "plugins", "*", "*.quirk")) +
                  glob.glob(os.path.join(TOP, "tests", "quirks", "*.quirk")))


def devices_of(out, plugin):
    try:
        devices = json.loads(out).get("Devices", [])
    except json.JSONDecodeError:
        return []
    keys = ("DeviceId", "Name", "Plugin", "Version", "VersionFormat", "Protocols", "Guid",
            "InstanceIds", "Flags", "RequestFlags")
    return [{k: d.get(k) for k in keys} for d in devices if d.get("Plugin") == plugin]


def wait_back(step, plugin, wait, code):
    """get-devices until the plugin's device is back (a device that re-enumerates comes back a
    moment after the update returns), at most wait seconds; its devices then."""
    deadline = time.monotonic() + wait
    while True:
        _, out = step("get-devices-after", ["get-devices", "--json"])
        after = devices_of(out, plugin)
        if after or time.monotonic() > deadline or code != 0:
            return after
        time.sleep(0.5)


def history(step):
    _, out = step("get-history", ["get-history", "--json"])
    try:
        return json.loads(out).get("Devices", [])
    except json.JSONDecodeError:
        return []


def install_cabinet(args, session, step, result):
    if args.record_emulation and result["before"]:
        # fwupd records a tagged device's events from its next enumeration: for a device
        # that stays plugged in, that is the daemon's next start
        step("emulation-tag", ["emulation-tag", result["before"][0]["DeviceId"]])
        session.restart_daemon()
        _, out = step("get-devices-tagged", ["get-devices", "--json"])
        result["before"] = devices_of(out, args.plugin)
    if not result["before"]:
        return 3
    sys.stderr.write("$ fwupdmgr install %s\n" % os.path.basename(args.cabinet))
    # the flags of a non-interactive install: a re-install or older version is fine,
    # no questions, no reboot prompt, and no checks of remotes this session has none of
    code, _ = step("install", [
        "install", args.cabinet, "--allow-reinstall", "--allow-older", "--assume-yes",
        "--no-reboot-check", "--no-unreported-check", "--no-metadata-check",
        "--no-remote-check", "--no-security-fix"], stream=True)
    result["after"] = wait_back(step, args.plugin, args.wait_back, code)
    result["history"] = history(step)
    if args.record_emulation:
        step("emulation-save", ["emulation-save", args.record_emulation])
    _, out = step("get-history-text", ["get-history"])
    sys.stderr.write("$ fwupdmgr get-history\n" + out)
    return code


def updates_of(out, plugin):
    """{device ID: [release versions]} of get-updates --json, for the plugin's devices."""
    try:
        devices = json.loads(out).get("Devices", [])
    except json.JSONDecodeError:
        return {}
    return {d.get("DeviceId"): [r.get("Version") for r in d.get("Releases", [])]
            for d in devices if d.get("Plugin") == plugin}


def update_from_remote(args, session, step, result):
    """What a user does with a remote: refresh, see what is offered, update, look again."""
    if not result["before"]:
        return 3
    sys.stderr.write("$ fwupdmgr refresh\n")
    code, _ = step("refresh", ["refresh"], stream=True)
    if code != 0:
        return code
    code, out = step("get-updates", ["get-updates", "--json"])
    if code != 0:
        return code
    result["offered"] = updates_of(out, args.plugin)
    sys.stderr.write("$ fwupdmgr get-updates\n")
    step("get-updates-text", ["get-updates"], stream=True)
    sys.stderr.write("$ fwupdmgr update\n")
    # non-interactive: no questions, no reboot prompt, no offer to upload the report
    code, _ = step("update", ["update", "--assume-yes", "--no-reboot-check",
                              "--no-unreported-check"], stream=True)
    result["after"] = wait_back(step, args.plugin, args.wait_back, code)
    _, out = step("get-updates-after", ["get-updates", "--json"])
    result["offered_after"] = updates_of(out, args.plugin)
    # as a person reads it: "No updates available" (exit 2, nothing to do), and the devices
    # that have the latest firmware the remotes offer
    sys.stderr.write("$ fwupdmgr get-updates\n")
    step("get-updates-after-text", ["get-updates"], stream=True)
    # what the daemon shows once it starts again (as after a reboot): the same version, from
    # the device or from what the plugin kept, and still nothing to offer
    session.restart_daemon()
    _, out = step("get-devices-restarted", ["get-devices", "--json"])
    result["after_restart"] = devices_of(out, args.plugin)
    _, out = step("get-updates-restarted", ["get-updates", "--json"])
    result["offered_after_restart"] = updates_of(out, args.plugin)
    result["history"] = history(step)
    _, out = step("get-history-text", ["get-history"])
    sys.stderr.write("$ fwupdmgr get-history\n" + out)
    return code


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--state", required=True, help="the run's scratch directory")
    parser.add_argument("--plugin", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--cabinet", help="install this cabinet with fwupdmgr install")
    source.add_argument("--remote", metavar="DIR",
                        help="serve DIR (remote_metadata.py's output) as a download remote "
                             "and update from it with fwupdmgr refresh, get-updates, update")
    parser.add_argument("--trust", metavar="PEM",
                        help="the certificate the remote's metadata is signed with")
    parser.add_argument("--quirk", action="append", default=[],
                        help="a quirk file to load beside the project's (repeatable)")
    parser.add_argument("--result", required=True)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--record-emulation", metavar="ZIP",
                        help="tag the device for emulation, restart the daemon so it records "
                             "from enumeration on, and save what the install did here")
    parser.add_argument("--wait-back", type=float, default=15,
                        help="how long to wait for the device to come back after the "
                             "update (0: it leaves for good)")
    args = parser.parse_args()
    if args.remote and not args.trust:
        parser.error("--remote needs --trust")

    modules = default_modules(args.build)
    quirks = default_quirks() + args.quirk

    os.makedirs(args.state, exist_ok=True)
    session = Session(args.state, args.build, os.path.join(args.state, "fwupd.log"))
    result = {"steps": []}
    rc = 1
    try:
        session.start_bus()
        session.start_polkit()
        port = session.start_http(args.remote) if args.remote else None
        session.start_daemon(modules, quirks, remote_port=port, trust=args.trust)
        result["daemon_pid"] = session.daemon.pid

        def step(name, fwupdmgr_args, stream=False):
            code, out, err = session.fwupdmgr(fwupdmgr_args, args.timeout, stream=stream)
            result["steps"].append({"name": name, "args": fwupdmgr_args, "rc": code,
                                    "stdout": out[-12000:], "stderr": err[-4000:]})
            return code, out

        _, out = step("get-devices", ["get-devices", "--json"])
        result["before"] = devices_of(out, args.plugin)
        if args.remote:
            rc = update_from_remote(args, session, step, result)
        else:
            rc = install_cabinet(args, session, step, result)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        result["error"] = str(exc)
    finally:
        result["stopped"] = session.stop()
        with open(args.result, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return rc


if __name__ == "__main__":
    sys.exit(main())
