"""Commands around a running lab's processes and packets: logs, capture."""

from __future__ import annotations

import os
import shutil
import sys
import time

import click

from ..errors import MissingFeatureError, NotFoundError
from . import multi as multi_cli
from .core import _need_root
from .labarg import LAB


@click.command()
@click.argument("lab", type=LAB)
@click.argument("node", required=False)
@click.argument("service", required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new output until Ctrl-C.")
@click.option("-n", "--lines", type=click.IntRange(min=0), help="Only the last N lines of each log.")
def logs(lab: str, node: str | None, service: str | None, follow: bool, lines: int | None) -> None:
    """Show the output of the lab's services and other processes (DNS servers, delay line, captures).

    \b
    Examples:
      netemu logs internet                 # every process, each under a header
      netemu logs internet web             # the processes of node web
      netemu logs internet web http -f     # one service, following new lines
    Each log keeps the newest 1 MiB of output (older output is dropped).
    """
    from ..services.runtime import follow as follow_log
    from ..services.runtime import log_sources, read_log

    _need_root("logs")
    if multi_cli.is_multi(lab):  # each machine keeps its own processes' logs
        return multi_cli.logs(lab, node, service, follow, lines)
    sources = log_sources(lab, node, service)
    if not sources:
        raise NotFoundError(f"lab {lab!r} runs no processes")
    out = sys.stdout.buffer
    several = service is None  # a header (or a prefix when following) names each process's output
    for src in sources:
        data = read_log(src)
        if lines is not None:
            data = b"".join(data.splitlines(keepends=True)[-lines:]) if lines else b""
        if several and not follow:
            where = f" in {src.node}" if src.node else ""
            out.write(f"==> {src.name}{where} ({src.log}) <==\n".encode())
        if several and follow:
            data = b"".join(f"[{src.name}] ".encode() + line for line in data.splitlines(keepends=True))
        out.write(data)
        if several and not follow and data and not data.endswith(b"\n"):
            out.write(b"\n")
    out.flush()
    if not follow:
        return
    streams = [(src, follow_log(src)) for src in sources]
    try:
        while True:
            idle = True
            for src, stream in streams:
                chunk = next(stream)  # never blocks long: returns b"" after one poll when idle
                if chunk:
                    idle = False
                    if several:
                        chunk = b"".join(f"[{src.name}] ".encode() + line for line in chunk.splitlines(keepends=True))
                    out.write(chunk)
            out.flush()
            if idle:
                time.sleep(0.2)
    except (KeyboardInterrupt, BrokenPipeError):
        pass


@click.command()
@click.argument("lab", type=LAB)
@click.argument("where", metavar="NODE[:IF[,IF…]]")
@click.option("-w", "write", metavar="FILE|-", help="Write packets to FILE (pcap; pcapng for several interfaces), "
                                                 "or '-' for stdout.")
@click.option("-c", "count", type=click.IntRange(min=1), help="Stop after COUNT packets.")
@click.argument("filter_", nargs=-1, type=click.UNPROCESSED, metavar="[-- FILTER…]")
def capture(lab: str, where: str, write: str | None, count: int | None, filter_: tuple[str, ...]) -> None:
    """Capture packets inside NODE (tcpdump/dumpcap in its namespace); Ctrl-C stops with a complete file.

    \b
    NODE alone captures all its interfaces in one pcapng file, each packet naming its interface;
    NODE:IF one interface (classic pcap); NODE:IF1,IF2 several.
    Without -w the packets are decoded live.
    Examples:
      netemu capture two-routers r1:eth1                      # live decode
      netemu capture two-routers r1 -w r1.pcapng -c 100 -- icmp
      netemu capture internet web:eth0 -w - | wireshark -k -i -
      ssh vm sudo netemu capture internet web:eth0 -w - | wireshark -k -i -
    """
    from ..capture.command import Capture
    from ..kernel import procs
    from ..lab import Lab

    _need_root("capture")
    node, _, ifs = where.partition(":")
    if multi_cli.is_multi(lab):  # the node is on another machine: its packets stream back over ssh
        return multi_cli.capture(lab, node, [i for i in ifs.split(",") if i] or None, write, count, filter_)
    handle = Lab.attach(lab).node(node)
    have = [i.name for i in handle.model.interfaces]
    wanted = [i for i in ifs.split(",") if i] if ifs else have
    unknown = [i for i in wanted if i not in have and i != "lo"]
    if unknown or not wanted:
        raise NotFoundError(f"node {node!r} has no interface {', '.join(unknown) or '(none given)'} "
                            f"(it has: {', '.join(have) or 'none'}{', lo' if have else ''})")
    filt = filter_  # click consumed the `--` in front of it
    if write not in (None, "-"):
        write = os.path.abspath(write)
    cap = Capture(tuple(wanted), write, count, tuple(filt))
    tool = cap.argv()[0]
    if shutil.which(tool) is None:
        package = "tcpdump" if tool == "tcpdump" else "tshark"
        raise MissingFeatureError(f"netemu capture needs {tool} here: apt-get install {package}")
    argv = procs.ns_argv(handle.ns, cap.argv())
    if write is not None and write != "-":
        click.echo(f"capturing on {node}:{','.join(wanted)} into {write} "
                   f"({'pcapng' if cap.pcapng else 'pcap'}); Ctrl-C stops", err=True)
    sys.stdout.flush()
    # The capture tool replaces this process: Ctrl-C reaches it directly and it closes its file cleanly.
    os.execvp(argv[0], argv)


commands = [logs, capture]
