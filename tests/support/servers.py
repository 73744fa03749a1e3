"""Servers on loopback, for tests and benchmarks: a free port, the wait until a server answers HTTP, its stop.

Plain functions with no pytest in them, so a benchmark (``bench/``, which puts the project root on
``sys.path``) uses the same ones as the tests.
"""
import socket
import subprocess
import time
from pathlib import Path

import requests


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen | None = None, timeout: float = 60, *,
              log: Path | None = None, status: int | None = None) -> requests.Response:
    """Poll ``url`` until it answers (with ``status``, when given) and return that answer.

    Raises ``RuntimeError`` as soon as ``process`` (the server, or what starts it) has exited, with
    the end of its ``log`` when given, and ``TimeoutError`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            output = Path(log).read_text(errors="replace")[-3000:] if log and Path(log).exists() else ""
            raise RuntimeError(f"server exited with {process.returncode} before {url} answered\n{output}".rstrip())
        try:
            response = requests.get(url, timeout=2)
            if status is None or response.status_code == status:
                return response
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer{f' {status}' if status else ''} within {timeout} s")


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if ``process`` has not exited after ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
