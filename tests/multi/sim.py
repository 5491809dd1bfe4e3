"""Simulated machines on one host: each "machine" is a network namespace on a shared underlay
bridge (in a namespace of its own, never the host's), with a private mount namespace (its own
/run, so its own /run/netns and /run/netemu; /etc as an overlay, so its own /etc/netns) and a real
OpenSSH server bound to its underlay address only. The coordinator is one more such namespace and
reaches the machines with the real `ssh` client and keys generated here.

Used by tests/multi and by scripts/sim-machines.sh:
    python tests/multi/sim.py up DIR N      # prints the inventory path and the coordinator's pid
    python tests/multi/sim.py down DIR
NETEMU_SIM_TAG=PREFIX names the host namespaces PREFIX…-* (default mcs).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SSHD = "/usr/sbin/sshd"
SUBNET = "10.77.0"  # underlay addresses: only inside the simulation's own namespaces


def _sh(*argv: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, **kw)


@dataclass
class Sim:
    """N simulated machines m1..mN and a coordinator, named with `tag` (host namespaces TAG-…)."""

    tag: str
    n: int
    dir: Path
    mtu: int = 1500
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def machines(self) -> list[str]:
        return [f"m{i}" for i in range(1, self.n + 1)]

    def ns(self, name: str) -> str:
        return f"{self.tag}-{name}"

    def address(self, name: str) -> str:
        return f"{SUBNET}.{100 if name == 'c' else 10 + int(name[1:])}"

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yaml"

    # --- building ----------------------------------------------------------------------
    def up(self) -> Sim:
        """Create the underlay, the machines with their sshd, the coordinator and the inventory."""
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            self._underlay()
            _sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "netemu-sim", "-f", str(self.dir / "id"))
            (self.dir / "authorized_keys").write_text((self.dir / "id.pub").read_text())
            for m in self.machines:
                self._machine(m)
            self._coordinator()
            self._write_inventory()
            self._save()
            self._wait_ssh()
        except BaseException:
            self.down()
            raise
        return self

    def _underlay(self) -> None:
        ul = self.ns("ul")
        _sh("ip", "netns", "add", ul)
        _sh("ip", "-n", ul, "link", "add", "ul0", "mtu", str(self.mtu), "type", "bridge")
        _sh("ip", "-n", ul, "link", "set", "ul0", "up")
        for name in [*self.machines, "c"]:
            ns = self.ns(name)
            _sh("ip", "netns", "add", ns)
            # No duplicate address detection: the link-local address is final at once, so a machine's
            # routes do not change by themselves between two snapshots of a test.
            for key in ("all", "default"):
                _sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.accept_dad=0")
            _sh("ip", "-n", ul, "link", "add", f"p-{name}", "mtu", str(self.mtu), "master", "ul0", "type", "veth",
                "peer", "name", "ul0", "mtu", str(self.mtu), "netns", ns)
            _sh("ip", "-n", ul, "link", "set", f"p-{name}", "up")
            _sh("ip", "-n", ns, "addr", "add", f"{self.address(name)}/24", "dev", "ul0")
            _sh("ip", "-n", ns, "link", "set", "ul0", "up")
            _sh("ip", "-n", ns, "link", "set", "lo", "up")

    def _private(self, name: str, then: str) -> subprocess.Popen:
        """Start `then` in namespace NAME with a private mount namespace: fresh /run, overlaid /etc."""
        d = self.dir / name
        for sub in ("upper", "work"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        script = (f"set -e; mount -t tmpfs -o mode=755 netemu-sim /run; mkdir -p /run/sshd /run/netns; "
                  # what FRR's package makes at boot, so routers can run on the machine
                  f"if getent passwd frr >/dev/null; then install -d -o frr -g frr -m 755 /run/frr; fi; "
                  f"mount -t overlay netemu-sim -o lowerdir=/etc,upperdir={d}/upper,workdir={d}/work /etc; "
                  f"mkdir -p /etc/netns; mount -t tmpfs -o mode=755 netemu-sim /etc/netns; "
                  f"exec {then}")
        log = open(d / "log", "w")
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns(name), "unshare", "--mount", "--propagation",
                                 "private", "sh", "-c", script], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        self._settled(proc, name, then.split()[0])
        return proc

    def _settled(self, proc: subprocess.Popen, name: str, program: str, timeout: float = 10) -> None:
        """Wait until `proc` runs `program` inside the machine's namespace with its mounts made: until
        then nsenter -t PID would join the host's namespaces, and ssh would leave the simulation."""
        want = os.stat(f"/run/netns/{self.ns(name)}").st_ino
        deadline = time.monotonic() + timeout
        while True:
            try:
                inside = os.stat(f"/proc/{proc.pid}/ns/net").st_ino == want
                exe = os.path.realpath(shutil.which(program) or program)
                running = os.path.realpath(f"/proc/{proc.pid}/exe") == exe
            except OSError:
                inside = running = False
            if inside and running:
                return
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name}: {program} did not start: {(self.dir / name / 'log').read_text()[-800:]}")
            time.sleep(0.02)

    def _machine(self, m: str) -> None:
        d = self.dir / m
        d.mkdir(parents=True, exist_ok=True)
        _sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / "hostkey"))
        (d / "sshd_config").write_text(
            f"ListenAddress {self.address(m)}\nPort 22\nHostKey {d}/hostkey\nPidFile {d}/sshd.pid\n"
            f"AuthorizedKeysFile {self.dir}/authorized_keys\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            "PrintMotd no\nPrintLastLog no\nMaxStartups 100\nMaxSessions 100\n"
            # a session whose coordinator vanished with the underlay ends instead of waiting forever
            "ClientAliveInterval 5\nClientAliveCountMax 3\n")
        self.pids[m] = self._private(m, f"{SSHD} -D -e -f {d}/sshd_config").pid

    def _coordinator(self) -> None:
        self.pids["c"] = self._private("c", "sleep infinity").pid

    def _write_inventory(self) -> None:
        args = (f"-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                f"-o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR")
        hosts = "".join(f"    {m}: {{ansible_host: {self.address(m)}}}\n" for m in self.machines)
        self.inventory.write_text(
            "# simulated machines (tests/multi/sim.py): namespaces with their own sshd\n"
            "all:\n  vars:\n    ansible_user: root\n"
            f"    ansible_ssh_private_key_file: {self.dir}/id\n"
            f"    ansible_ssh_common_args: {args}\n"
            f"    netemu_command: PYTHONPATH={ROOT} {sys.executable} -m netemu\n"
            f"  hosts:\n{hosts}")

    def _wait_ssh(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        for m in self.machines:
            while self.in_machine(m, ["true"], ssh=True).returncode != 0:
                if time.monotonic() > deadline:
                    log = (self.dir / m / "log").read_text()
                    raise RuntimeError(f"sshd of {m} does not answer: {log[-800:]}")
                time.sleep(0.2)

    # --- using ---------------------------------------------------------------------------
    def coordinator(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run `netemu ARGS` on the coordinator (its namespaces; the real ssh to reach the machines)."""
        return _sh("nsenter", "-t", str(self.pids["c"]), "-m", "-n", "--", sys.executable, "-m", "netemu", *args,
                   check=False, cwd=ROOT, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})

    def coordinator_raw(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """Like coordinator(), with stdout as bytes (a pcap)."""
        return subprocess.run(["nsenter", "-t", str(self.pids["c"]), "-m", "-n", "--", sys.executable, "-m", "netemu",
                               *args], capture_output=True, cwd=ROOT, timeout=timeout,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})

    def coordinator_popen(self, *args: str) -> subprocess.Popen:
        """Start `netemu ARGS` on the coordinator in the background."""
        return subprocess.Popen(["nsenter", "-t", str(self.pids["c"]), "-m", "-n", "--", sys.executable, "-m",
                                 "netemu", *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def in_machine(self, m: str, argv: list[str], ssh: bool = False) -> subprocess.CompletedProcess:
        """Run argv on machine m: directly (nsenter) or, with ssh, as the coordinator would."""
        if not ssh:
            return _sh("nsenter", "-t", str(self.pids[m]), "-m", "-n", "--", *argv, check=False)
        return _sh("nsenter", "-t", str(self.pids["c"]), "-m", "-n", "--", "ssh", "-F", "/dev/null", "-o",
                   "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                   "-o", "LogLevel=ERROR", "-i", str(self.dir / "id"), f"root@{self.address(m)}", "--", *argv,
                   check=False)

    def snapshot(self, m: str) -> dict:
        """What a machine has that netemu could change: links, routes, namespaces, files, UDP sockets."""
        def out(*argv):
            return self.in_machine(m, list(argv)).stdout

        return {"links": out("ip", "-o", "link"), "routes": out("ip", "route", "show", "table", "all"),
                "netns": out("ls", "/run/netns"), "run": out("ls", "-a", "/run"), "etc_netns": out("ls", "/etc/netns"),
                "udp": out("ss", "-Hun", "-l")}

    # --- removing ------------------------------------------------------------------------
    def _save(self) -> None:
        (self.dir / "sim.json").write_text(json.dumps({"tag": self.tag, "n": self.n, "pids": self.pids,
                                                       "mtu": self.mtu}))

    @classmethod
    def load(cls, d: Path) -> Sim:
        data = json.loads((d / "sim.json").read_text())
        return cls(data["tag"], data["n"], d, data["mtu"], data["pids"])

    def down(self) -> None:
        """Stop every process the simulation started (by pid) and delete its namespaces and files."""
        mine = set()
        for pid in self.pids.values():
            try:
                mine.add(os.stat(f"/proc/{pid}/ns/net").st_ino)
            except OSError:
                pass
        for name, pid in self.pids.items():
            if name != "c":  # labs a failed test left: their processes would keep the machine's mounts alive
                self.in_machine(name, ["env", f"PYTHONPATH={ROOT}", sys.executable, "-m", "netemu", "down", "--all"])
            try:
                os.killpg(pid, signal.SIGTERM)  # its own session: sshd and the sessions it started
            except ProcessLookupError:
                continue
        # what still runs inside the simulation's namespaces (ssh sessions, in their own sessions): by pid
        for p in os.listdir("/proc"):
            try:
                if p.isdigit() and int(p) != os.getpid() and os.stat(f"/proc/{p}/ns/net").st_ino in mine:
                    os.kill(int(p), signal.SIGTERM)
            except (OSError, ProcessLookupError):
                continue
        for pid in self.pids.values():
            for _ in range(50):
                if not os.path.exists(f"/proc/{pid}"):
                    break
                time.sleep(0.1)
        for name in ["ul", *self.machines, "c"]:
            _sh("ip", "netns", "del", self.ns(name), check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "up":
        d = Path(argv[1]).resolve()
        sim = Sim(f"{os.environ.get('NETEMU_SIM_TAG', 'mcs')}{os.getpid() % 10000}", int(argv[2]), d).up()
        print(f"inventory: {sim.inventory}\ncoordinator: nsenter -t {sim.pids['c']} -m -n")
        return 0
    if len(argv) == 2 and argv[0] == "down":
        Sim.load(Path(argv[1]).resolve()).down()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
