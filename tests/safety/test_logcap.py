"""Every log netemu writes is capped: a chatty process never fills /run (a tmpfs in RAM)."""

from __future__ import annotations

import subprocess

from netemu import logcap


def test_writer_rotates_at_the_limit_and_keeps_the_newest(tmp_path):
    log = tmp_path / "x.log"
    w = logcap.CappedWriter(str(log), limit=1000)
    for i in range(500):
        w.write(f"line {i:04d}\n")
    w.close()
    assert log.stat().st_size <= 1000
    assert (tmp_path / "x.log.1").stat().st_size <= 1000
    assert log.read_text().endswith("line 0499\n")
    assert len(list(tmp_path.iterdir())) == 2


def test_sink_caps_an_external_process_output(tmp_path):
    log = tmp_path / "chatty.log"
    sink = logcap.sink(str(log), limit=64 * 1024)
    # 5 MB of output, then a last line that must survive
    p = subprocess.Popen(["sh", "-c", "head -c 5000000 /dev/zero | tr '\\0' x; echo; echo LAST"], stdout=sink.fd)
    sink.close()
    p.wait(timeout=30)
    sink.proc.wait(timeout=30)
    assert log.stat().st_size <= 64 * 1024
    assert (tmp_path / "chatty.log.1").stat().st_size <= 64 * 1024
    assert log.read_text().endswith("LAST\n")


def test_processes_netemu_starts_log_through_a_sink(tmp_path, monkeypatch):
    from netemu.kernel import procs

    monkeypatch.setattr(procs, "ns_argv", lambda ns, argv: list(argv))  # no namespace needed for this check
    monkeypatch.setattr(logcap, "LOG_LIMIT", 4096)
    monkeypatch.setattr(logcap.sink, "__defaults__", (4096,))
    log = tmp_path / "svc.log"
    proc = procs.start("unused", ["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' y; echo; echo done >&2; exit 3"],
                       str(log))
    assert "exited with status 3" in procs.wait_ready(proc, str(tmp_path / "never"), timeout=10)
    assert log.read_text().endswith("done\n")  # drained before a failed start's log is read
    assert log.stat().st_size <= 4096
