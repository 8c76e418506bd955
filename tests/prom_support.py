"""Real Prometheus for tests: the Debian `prometheus` binary on 127.0.0.1, a free port, a temp data dir."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:g} s")


@contextmanager
def prometheus(workdir: Path, targets: list[str], rule_files: list[Path] = (), scrape_interval: str = "1s",
               evaluation_interval: str = "1s") -> Iterator[str]:
    """Run Prometheus scraping `targets` (host:port); yields its base URL; always stopped at exit."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise RuntimeError("the Debian `prometheus` package is not installed (scripts/test.sh installs it)")
    port = free_port()
    config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": evaluation_interval},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [{"job_name": "mem0", "static_configs": [{"targets": targets}]}],
    }
    cfg_file = workdir / "prometheus.yml"
    cfg_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    data = workdir / "prom-data"
    data.mkdir(exist_ok=True)
    log = (workdir / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={cfg_file}", f"--storage.tsdb.path={data}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/-/ready", proc=proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
