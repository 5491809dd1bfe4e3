"""The capture tool's command line, chosen once for `netemu capture` and the topology's captures.

One interface: tcpdump (classic pcap, which every tool reads). Several: dumpcap writes pcapng, whose
per-interface blocks name the interface of each packet (tcpdump `-i any` records only an index), and
tshark decodes them live with that name in front.
"""

from __future__ import annotations

from dataclasses import dataclass

FILE_LIMIT_KB = 65536  # a topology's capture stops at 64 MiB: /run is RAM


@dataclass(frozen=True)
class Capture:
    """What to capture in one node and where it goes (None: decoded live on stdout; '-': pcap on stdout)."""

    interfaces: tuple[str, ...]
    write: str | None = None
    count: int | None = None
    filter: tuple[str, ...] = ()
    limit_kb: int | None = None

    @property
    def pcapng(self) -> bool:
        """Whether the output is pcapng (several interfaces, or a topology's capture file) rather than pcap."""
        return len(self.interfaces) > 1 or self.limit_kb is not None

    def argv(self) -> list[str]:
        """The tool and its arguments, run inside the node's namespace."""
        count = ["-c", str(self.count)] if self.count else []
        if not self.pcapng:
            head = ["tcpdump", "-i", self.interfaces[0], "-n", *count]
            if self.write is None:
                return [*head, "-l", *self.filter]
            # -U: each packet reaches the file (or the pipe) at once, so `-w - | wireshark -k -i -` is live
            return [*head, "-U", "-w", self.write, *self.filter]
        # A capture filter before the first -i applies to every interface (after one, only to that one).
        ifs = [*(["-f", " ".join(self.filter)] if self.filter else []), *(a for i in self.interfaces for a in ("-i", i))]
        if self.write is None:
            return ["tshark", "-n", "-l", *ifs, *count, "-T", "fields", "-E", "separator=  ",
                    "-e", "frame.time_relative", "-e", "frame.interface_name", "-e", "_ws.col.Source",
                    "-e", "_ws.col.Destination", "-e", "_ws.col.Protocol", "-e", "_ws.col.Info"]
        limit = ["-a", f"filesize:{self.limit_kb}"] if self.limit_kb else []
        return ["dumpcap", "-q", *ifs, *count, *limit, "-w", self.write]
