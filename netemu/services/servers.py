"""The built-in servers: `python -m netemu.services.servers http|echo|discard --port P --proto P --node N`.

Each listens on IPv4 and IPv6 at once (one dual-stack socket, or IPv4 alone where the node has no
IPv6) and logs one line per client to its output, which `netemu logs` shows.
"""

from __future__ import annotations

import argparse
import http.server
import socket
import socketserver
import sys
import threading


def _plain(addr: str) -> str:
    """An IPv4 client seen through a dual-stack socket arrives as ::ffff:a.b.c.d; show a.b.c.d."""
    return addr[7:] if addr.startswith("::ffff:") and "." in addr else addr


class _DualStack:
    """Mixed into socketserver servers: bind [::] with IPV6_V6ONLY off, or 0.0.0.0 without IPv6."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, port: int, handler) -> None:
        try:
            self.address_family = socket.AF_INET6
            super().__init__(("::", port), handler, bind_and_activate=False)
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        except OSError:  # IPv6 disabled in this node
            self.address_family = socket.AF_INET
            super().__init__(("0.0.0.0", port), handler, bind_and_activate=False)
        self.server_bind()
        self.server_activate()


def http_server(port: int, node: str) -> socketserver.BaseServer:
    """A web server whose page names the node that answered and the client address it saw (NAT shows)."""

    class Page(http.server.BaseHTTPRequestHandler):
        server_version = "netemu-http"
        protocol_version = "HTTP/1.1"  # answers "Expect: 100-continue" at once (curl asks before big uploads)

        def _body(self, received: int | None = None) -> bytes:
            client, cport = _plain(self.client_address[0]), self.client_address[1]
            me = self.connection.getsockname()
            text = (f"Hello from {node}!\n"
                    f"You are {client} port {cport}: the address this server saw, after any NAT on the way.\n"
                    f"You reached {_plain(me[0])} port {me[1]} and asked for {self.path} "
                    f"(Host: {self.headers.get('Host', '-')}).\n")
            if received is not None:
                text += f"Received {received} bytes ({self.command}).\n"
            return text.encode()

        def _answer(self, body: bytes, send: bool = True) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send:
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - the name http.server looks for
            size = _bytes_asked(self.path)
            if size is None:
                self._answer(self._body())
                return
            # /bytes/N: a download of N bytes (zeros), for lessons that need big packets towards the client
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = bytes(65536)
            left = size
            while left > 0:
                self.wfile.write(chunk[:min(left, len(chunk))])
                left -= min(left, len(chunk))

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(self._body(), send=False)

        def do_POST(self) -> None:  # noqa: N802
            """Read an upload of any size (counted, not kept) and say how many bytes arrived."""
            self._answer(self._body(self._drain()))

        do_PUT = do_POST  # noqa: N815

        def _drain(self) -> int:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                total = 0
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return total
                    total += _discard(self.rfile, size)
                    self.rfile.readline()  # the CRLF after each chunk
            return _discard(self.rfile, int(self.headers.get("Content-Length") or 0))

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
            sys.stdout.write(f"{_plain(self.client_address[0])} port {self.client_address[1]}: {format % args}\n")
            sys.stdout.flush()

    class Server(_DualStack, socketserver.ThreadingMixIn, http.server.HTTPServer):
        pass

    return Server(port, Page)


def stream_server(port: int, echo: bool) -> socketserver.BaseServer:
    """TCP echo (RFC 862) or discard (RFC 863)."""

    class Conn(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            _log(f"tcp {_plain(self.client_address[0])} port {self.client_address[1]} connected")
            total = 0
            while data := self.request.recv(65536):
                total += len(data)
                if echo:
                    self.request.sendall(data)
            _log(f"tcp {_plain(self.client_address[0])} port {self.client_address[1]} closed after {total} bytes")

    class Server(_DualStack, socketserver.ThreadingMixIn, socketserver.TCPServer):
        pass

    return Server(port, Conn)


def datagram_server(port: int, echo: bool) -> socketserver.BaseServer:
    """UDP echo or discard."""

    class Datagram(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            _log(f"udp {_plain(self.client_address[0])} port {self.client_address[1]}: {len(data)} bytes")
            if echo:
                sock.sendto(data, self.client_address)

    class Server(_DualStack, socketserver.UDPServer):
        pass

    return Server(port, Datagram)


MAX_DOWNLOAD = 1 << 30


def _bytes_asked(path: str) -> int | None:
    """N of a `/bytes/N` request (at most 1 GiB), else None."""
    head, _, tail = path.partition("?")[0].rpartition("/")
    if head != "/bytes" or not tail.isdigit():
        return None
    return min(int(tail), MAX_DOWNLOAD)


def _discard(f, n: int) -> int:
    """Read and drop `n` bytes of `f`; how many there were."""
    got = 0
    while got < n:
        data = f.read(min(65536, n - got))
        if not data:
            break
        got += len(data)
    return got


def _log(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    """Run one built-in server until it is terminated."""
    ap = argparse.ArgumentParser(prog="netemu.services.servers")
    ap.add_argument("kind", choices=("http", "echo", "discard"))
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--proto", choices=("tcp", "udp", "both"), default="tcp")
    ap.add_argument("--node", default=socket.gethostname())
    a = ap.parse_args(argv)
    if a.kind == "http":
        servers = [http_server(a.port, a.node)]
    else:
        echo = a.kind == "echo"
        servers = ([stream_server(a.port, echo)] if a.proto in ("tcp", "both") else []) + \
                  ([datagram_server(a.port, echo)] if a.proto in ("udp", "both") else [])
    _log(f"{a.kind} on {a.node}: serving {a.proto if a.kind != 'http' else 'tcp'} port {a.port}")
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
