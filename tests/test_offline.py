"""Nothing reaches for a model hub or any other network address."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO

pytestmark = pytest.mark.integration

SCRIPT = textwrap.dedent("""
    import socket, sys
    attempts = []
    real_connect = socket.socket.connect
    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else str(address)
        if host not in ("127.0.0.1", "::1", "localhost"):
            attempts.append(host)
            raise OSError(f"network blocked in test: {address}")
        return real_connect(self, address)
    socket.socket.connect = guarded
    real_getaddrinfo = socket.getaddrinfo
    def lookup(host, *args, **kwargs):
        if host not in ("127.0.0.1", "::1", "localhost", None):
            attempts.append(host)
            raise socket.gaierror(f"lookup blocked in test: {host}")
        return real_getaddrinfo(host, *args, **kwargs)
    socket.getaddrinfo = lookup

    from ragmed.config import load_settings
    from ragmed.build import build_index
    from ragmed.engine import Engine
    from ragmed.types import Document
    settings = load_settings(index={"root": sys.argv[1]})
    build_index([Document(id="d1", source="web", title="Asthma", text="Asthma causes wheezing and cough.")], settings, name="o")
    engine = Engine.open(settings, "o", build_if_missing=False)
    assert engine.search("wheezing", k=1)[0].doc_id == "d1"
    print("ATTEMPTS", attempts)
""")


def test_build_and_search_make_no_network_attempt(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ATTEMPTS []" in result.stdout, result.stdout
