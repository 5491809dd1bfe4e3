"""Helpers for netfilter integration tests: tiny servers and clients run inside lab nodes."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator

import yaml
from conftest import TOPOLOGIES

# A TCP (HTTP/1.0) server: prints "PEER ip port" for each connection, answers with a short page.
SERVER = r"""
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
print("READY", flush=True)
while True:
    c, peer = s.accept()
    print("PEER", peer[0], peer[1], flush=True)
    try:
        c.settimeout(2)
        c.recv(4096)
        body = b"hello from " + sys.argv[3].encode() + b"\n"
        body = b"x" * int(sys.argv[4]) + b"\n" + body if len(sys.argv) > 4 else body
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    except OSError:
        pass
    c.close()
"""

# Connects and sends one request; prints the reply's last line or the error (exit 1).
CLIENT = r"""
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
    c.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while chunk := c.recv(4096):
        data += chunk
    print(data.decode().strip().splitlines()[-1])
except OSError as e:
    print(type(e).__name__, e)
    sys.exit(1)
"""


def ns_run(ns: str, *argv: str, timeout: float = 30, input: str | None = None) -> subprocess.CompletedProcess:
    """Run argv inside namespace `ns` to completion."""
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout,
                          input=input, check=False)


class Server:
    """A running test server: its process and the peers it has seen."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lines: list[str] = []

    def peers(self) -> list[str]:
        """Source addresses of the connections accepted so far (reads what was printed)."""
        return [line.split()[1] for line in self.lines if line.startswith("PEER")]

    def read_available(self, wait: float = 0.5) -> None:
        """Collect printed lines for up to `wait` seconds."""
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0 and sel.select(left):
            line = self.proc.stdout.readline()  # unbuffered: select() sees every line still unread
            if not line:
                break
            self.lines.append(line.decode().strip())


@contextlib.contextmanager
def server(ns: str, port: int, bind: str = "0.0.0.0", name: str = "server", padding: int = 0) -> Iterator[Server]:
    """Run the test server in `ns` on `port` (answers `padding` extra bytes); stopped by its PID on exit."""
    argv = ["ip", "netns", "exec", ns, sys.executable, "-u", "-c", SERVER, bind, str(port), name]
    proc = subprocess.Popen(argv + ([str(padding)] if padding else []),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0)
    srv = Server(proc)
    try:
        line = proc.stdout.readline().decode().strip()
        assert line == "READY", f"test server in {ns} did not start: {line} {proc.stdout.read() if proc.poll() else ''}"
        yield srv
    finally:
        proc.kill()
        proc.wait(timeout=10)


def connect(ns: str, host: str, port: int, timeout: float = 2.0) -> tuple[bool, str]:
    """Open a TCP connection from `ns` and send a request: (whether an answer came, what was printed)."""
    res = ns_run(ns, sys.executable, "-c", CLIENT, host, str(port), str(timeout), timeout=timeout + 20)
    return res.returncode == 0, (res.stdout + res.stderr).strip()


def curl(ns: str, url: str, timeout: float = 5.0) -> subprocess.CompletedProcess:
    """curl a URL from `ns` (body on stdout)."""
    return ns_run(ns, "curl", "-sS", "--max-time", str(timeout), url, timeout=timeout + 20)


def ping(ns: str, host: str, *extra: str, count: int = 1, wait: int = 2) -> subprocess.CompletedProcess:
    """ping from `ns` (numeric output)."""
    return ns_run(ns, "ping", "-n", "-c", str(count), "-W", str(wait), *extra, host, timeout=count * wait + 20)


def conntrack(ns: str) -> str:
    """`conntrack -L` inside `ns`."""
    return ns_run(ns, "conntrack", "-L").stdout


def internet_text(mutate=None) -> str:
    """The shipped internet.yaml as text named NAME (for the lab fixture), optionally changed by `mutate(dict)`.

    Without web's built-in http service: these tests run their own server on port 80 (it reports each peer).
    """
    data = yaml.safe_load((TOPOLOGIES / "internet.yaml").read_text())
    data["name"] = "NAME"
    data["nodes"]["web"].pop("services", None)
    if mutate is not None:
        mutate(data)
    return yaml.safe_dump(data, sort_keys=False)


def scratch_namespace() -> str:
    """A fresh name for a namespace a test creates itself (and must delete)."""
    return f"nft-{secrets.token_hex(3)}-x"


def host_rules() -> dict[str, str]:
    """The host namespace's iptables rules (every back end, both families), counters stripped."""
    import shutil

    out = {}
    for tool in ("iptables-nft-save", "iptables-legacy-save", "ip6tables-nft-save", "ip6tables-legacy-save"):
        if shutil.which(tool):
            text = subprocess.run([tool], capture_output=True, text=True, check=False).stdout
            out[tool] = "\n".join(line for line in text.splitlines() if not line.startswith(("#", ":")))
    return out
