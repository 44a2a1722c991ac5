#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The client side of a daemon run, started by usbsim-run under the device simulation.

Starts what a user's system has: a system bus (a private dbus-daemon), polkit
(python3-dbusmock's polkitd template) and Debian's fwupd daemon loading our modules and
quirks; then runs the real fwupdmgr the way a user does: get-devices, install a cabinet,
get-devices, get-history; and, asked to, records fwupd's emulation data of the update.
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
# No remotes: nothing is downloaded, the cabinet is the only source of firmware.
FWUPD_CONF = """[fwupd]
OnlyTrusted=false
IdleTimeout=0
UpdateMotd=false
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

    def start_daemon(self, modules, quirks):
        dirs = {}
        for name in ("config", "config/remotes.d", "localconf", "state", "cache", "lock",
                     "metadata", "remotes", "quirks"):
            dirs[name] = os.path.join(self.state, name)
            os.makedirs(dirs[name], exist_ok=True)
        with open(os.path.join(dirs["config"], "fwupd.conf"), "w", encoding="utf-8") as f:
            f.write(FWUPD_CONF)
        # the daemon refuses a world-readable configuration
        os.chmod(os.path.join(dirs["config"], "fwupd.conf"), 0o640)
        for quirk in quirks:
            shutil.copy(quirk, dirs["quirks"])
        env = dict(self.env,
                   # the same as tests/run-fwupdtool: our modules beside fwupd's own, our
                   # quirks, and every state and cache directory in the run's directory
                   FWUPD_LIBDIR_PKG=",".join(modules),
                   FWUPD_LOCALSTATEDIR_QUIRKS=dirs["quirks"],
                   STATE_DIRECTORY=dirs["state"],
                   CACHE_DIRECTORY=dirs["cache"],
                   FWUPD_LOCKDIR=dirs["lock"],
                   CONFIGURATION_DIRECTORY=dirs["config"],
                   LOCALCONF_DIRECTORY=dirs["localconf"],
                   FWUPD_LOCALSTATEDIR_METADATA=dirs["metadata"],
                   FWUPD_LOCALSTATEDIR_REMOTES=dirs["remotes"])
        self.daemon_env = env
        self.run_daemon()

    def run_daemon(self):
        self.daemon_log = open(self.log, "a", encoding="utf-8")  # noqa: SIM115
        self.daemon = self.spawn([FWUPD_DAEMON, "--verbose", "--no-timestamp"], self.daemon_env,
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
        SIGKILL), then polkit and the bus."""
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
        for log in (getattr(self, "daemon_log", None), getattr(self, "bus_log", None)):
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
            "InstanceIds", "Flags")
    return [{k: d.get(k) for k in keys} for d in devices if d.get("Plugin") == plugin]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--state", required=True, help="the run's scratch directory")
    parser.add_argument("--plugin", required=True)
    parser.add_argument("--cabinet", required=True)
    parser.add_argument("--quirk", action="append", default=[],
                        help="a quirk file to load beside the project's (repeatable)")
    parser.add_argument("--result", required=True)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--record-emulation", metavar="ZIP",
                        help="tag the device for emulation, restart the daemon so it records "
                             "from enumeration on, and save what the install did here")
    parser.add_argument("--wait-back", type=float, default=15,
                        help="how long to wait for the device to come back after the "
                             "install (0: it leaves for good)")
    args = parser.parse_args()

    modules = default_modules(args.build)
    quirks = default_quirks() + args.quirk

    os.makedirs(args.state, exist_ok=True)
    session = Session(args.state, args.build, os.path.join(args.state, "fwupd.log"))
    result = {"steps": []}
    rc = 1
    try:
        session.start_bus()
        session.start_polkit()
        session.start_daemon(modules, quirks)
        result["daemon_pid"] = session.daemon.pid

        def step(name, fwupdmgr_args, stream=False):
            code, out, err = session.fwupdmgr(fwupdmgr_args, args.timeout, stream=stream)
            result["steps"].append({"name": name, "args": fwupdmgr_args, "rc": code,
                                    "stdout": out[-12000:], "stderr": err[-4000:]})
            return code, out

        code, out = step("get-devices", ["get-devices", "--json"])
        result["before"] = devices_of(out, args.plugin)
        if args.record_emulation and result["before"]:
            # fwupd records a tagged device's events from its next enumeration: for a device
            # that stays plugged in, that is the daemon's next start
            step("emulation-tag", ["emulation-tag", result["before"][0]["DeviceId"]])
            session.restart_daemon()
            code, out = step("get-devices-tagged", ["get-devices", "--json"])
            result["before"] = devices_of(out, args.plugin)
        if result["before"]:
            sys.stderr.write("$ fwupdmgr install %s\n" % os.path.basename(args.cabinet))
            # the flags of a non-interactive install: a re-install or older version is fine,
            # no questions, no reboot prompt, and no checks of remotes this session has none of
            code, _ = step("install", [
                "install", args.cabinet, "--allow-reinstall", "--allow-older", "--assume-yes",
                "--no-reboot-check", "--no-unreported-check", "--no-metadata-check",
                "--no-remote-check", "--no-security-fix"], stream=True)
            rc = code
            # a device that re-enumerates comes back a moment after the install returns
            deadline = time.monotonic() + args.wait_back
            while True:
                _, out = step("get-devices-after", ["get-devices", "--json"])
                result["after"] = devices_of(out, args.plugin)
                if result["after"] or time.monotonic() > deadline or code != 0:
                    break
                time.sleep(0.5)
            _, out = step("get-history", ["get-history", "--json"])
            try:
                result["history"] = json.loads(out).get("Devices", [])
            except json.JSONDecodeError:
                result["history"] = []
            if args.record_emulation:
                step("emulation-save", ["emulation-save", args.record_emulation])
            _, out = step("get-history-text", ["get-history"])
            sys.stderr.write("$ fwupdmgr get-history\n" + out)
        else:
            rc = 3
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        result["error"] = str(exc)
    finally:
        result["stopped"] = session.stop()
        with open(args.result, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return rc


if __name__ == "__main__":
    sys.exit(main())
