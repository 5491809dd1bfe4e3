"""A minimal nfnetlink_queue client: bind queues, read packet ids, send (batch) verdicts.

Only what a delay line needs: packets are copied as metadata only (no payload crosses into
userspace), GSO super-packets are queued whole, and a verdict on packet N can accept every
earlier packet of the same queue at once (NFQNL_MSG_VERDICT_BATCH).
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterator

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQNL_MSG_VERDICT_BATCH = 3

NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLMSG_ERROR = 0x2
NLMSG_DONE = 0x3

NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQA_CFG_MASK = 4
NFQA_CFG_FLAGS = 5
NFQNL_CFG_CMD_BIND = 1
NFQNL_CFG_CMD_UNBIND = 2
NFQNL_COPY_META = 1
NFQA_CFG_F_GSO = 1 << 2

NF_DROP = 0
NF_ACCEPT = 1

_HDR = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
_NFGEN = struct.Struct("=BBH")  # nfgenmsg: family, version, res_id (big-endian, packed by hand)
_NLA = struct.Struct("=HH")

SOL_NETLINK = 270
NETLINK_NO_ENOBUFS = 5


def _nla(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return _NLA.pack(length, kind) + payload + b"\0" * (-length % 4)


def _message(msg: int, queue: int, attrs: bytes, flags: int = NLM_F_REQUEST, seq: int = 0) -> bytes:
    body = struct.pack("=BB", socket.AF_UNSPEC, 0) + struct.pack(">H", queue) + attrs
    return _HDR.pack(_HDR.size + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg, flags, seq, 0) + body


def verdict(queue: int, packet_id: int, accept: bool = True, batch: bool = True) -> bytes:
    """A verdict message; with `batch`, it applies to every packet of `queue` up to `packet_id`."""
    hdr = _nla(NFQA_VERDICT_HDR, struct.pack(">II", NF_ACCEPT if accept else NF_DROP, packet_id))
    return _message(NFQNL_MSG_VERDICT_BATCH if batch else NFQNL_MSG_VERDICT, queue, hdr)


class QueueSocket:
    """One NETLINK_NETFILTER socket (in the namespace it was created in) serving several queues."""

    def __init__(self, rcvbuf: int = 16 << 20):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_NETFILTER)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, 33, rcvbuf)  # SO_RCVBUFFORCE (root), beyond rmem_max
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((0, 0))
        self._seq = 0
        self._buf = bytearray(1 << 20)
        self.overruns = 0  # ENOBUFS: the kernel dropped notifications (so the packets) on overload

    def fileno(self) -> int:
        """The socket's file descriptor, for epoll."""
        return self.sock.fileno()

    def close(self) -> None:
        """Close the socket; the kernel unbinds its queues (with --queue-bypass traffic then flows)."""
        self.sock.close()

    def _request(self, msg: bytes) -> None:
        """Send a request with NLM_F_ACK and raise OSError on a netlink error answer."""
        self.sock.setblocking(True)
        try:
            self.sock.send(msg)
            while True:
                data = self.sock.recv(65536)
                for kind, payload in _walk(data):
                    if kind == NLMSG_ERROR:
                        code = -struct.unpack_from("=i", payload, 0)[0]
                        if code:
                            raise OSError(code, f"nfqueue config: {os.strerror(code)}")
                        return
        finally:
            self.sock.setblocking(False)

    def _config(self, queue: int, attrs: bytes) -> None:
        self._seq += 1
        self._request(_message(NFQNL_MSG_CONFIG, queue, attrs, NLM_F_REQUEST | NLM_F_ACK, self._seq))

    def bind(self, queue: int, maxlen: int = 32768) -> None:
        """Bind `queue`: metadata-only copies, GSO kept whole, a deep kernel queue."""
        cmd = _nla(NFQA_CFG_CMD, struct.pack("=BxH", NFQNL_CFG_CMD_BIND, 0))
        self._config(queue, cmd)
        params = _nla(NFQA_CFG_PARAMS, struct.pack(">IB", 0, NFQNL_COPY_META))
        maxlen_attr = _nla(NFQA_CFG_QUEUE_MAXLEN, struct.pack(">I", maxlen))
        flags = _nla(NFQA_CFG_MASK, struct.pack(">I", NFQA_CFG_F_GSO)) + _nla(
            NFQA_CFG_FLAGS, struct.pack(">I", NFQA_CFG_F_GSO))
        self._config(queue, params + maxlen_attr + flags)

    def unbind(self, queue: int) -> None:
        """Unbind `queue` (packets still held by the kernel for it are dropped by the kernel)."""
        self._config(queue, _nla(NFQA_CFG_CMD, struct.pack("=BxH", NFQNL_CFG_CMD_UNBIND, 0)))

    def packets(self) -> Iterator[tuple[int, int]]:
        """Drain the socket without blocking: (queue, packet id) of every packet waiting."""
        buf = self._buf
        while True:
            try:
                n = self.sock.recv_into(buf)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    self.overruns += 1
                    continue
                raise
            off = 0
            while off + 16 <= n:
                length, kind, _flags, _seq, _pid = _HDR.unpack_from(buf, off)
                if length < 16:
                    break
                if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                    queue = int.from_bytes(buf[off + 18:off + 20], "big")
                    pid = _packet_id(buf, off + 20, off + length)
                    if pid is not None:
                        yield queue, pid
                off += (length + 3) & ~3

    def send(self, data: bytes) -> None:
        """Send one or more concatenated verdict messages (retrying briefly if the socket is full)."""
        self.sock.setblocking(True)
        try:
            self.sock.send(data)
        finally:
            self.sock.setblocking(False)


def _packet_id(buf: bytearray, off: int, end: int) -> int | None:
    # NFQA_PACKET_HDR is the kernel's first attribute; scan in case that ever changes.
    while off + 4 <= end:
        length, kind = _NLA.unpack_from(buf, off)
        if length < 4:
            return None
        if (kind & 0x3FFF) == NFQA_PACKET_HDR:
            return int.from_bytes(buf[off + 4:off + 8], "big")
        off += (length + 3) & ~3
    return None


def _walk(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(type, payload) of each netlink message in `data`."""
    off = 0
    while off + 16 <= len(data):
        length, kind, _f, _s, _p = _HDR.unpack_from(data, off)
        if length < 16:
            return
        yield kind, data[off + 16:off + length]
        off += (length + 3) & ~3
