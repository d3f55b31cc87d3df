"""The Kubernetes client's own HTTP transport against the sim: proxies as kubectl uses them (the
kubeconfig's proxy-url, HTTPS_PROXY unless NO_PROXY covers the server) through a CONNECT tunnel,
and the kubeconfig's trust taken strictly (a quoted "false" never turns verification off, a
certificate the kubeconfig does not trust is a permanent error, not a retry)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from homelab_tui.clients.kube import KubeClient, KubeConfigError
from homelab_tui.sim.kube_api import KubeApiSim

TOKEN = "transport-token"


class ConnectProxy:
    """A minimal HTTP CONNECT proxy on loopback that records the tunnels it opened."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self.port = 0

    async def __aenter__(self) -> ConnectProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        target = request.split()[1]
        self.tunnels.append(target)
        host, _, port = target.rpartition(":")
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except ConnectionError:
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


@pytest.fixture
async def sim() -> AsyncIterator[KubeApiSim]:
    server = KubeApiSim(TOKEN)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def kubeconfig_with(sim: KubeApiSim, path: Path, **cluster: object) -> Path:
    config = yaml.safe_load(sim.kubeconfig_text())
    config["clusters"][0]["cluster"].update(cluster)
    path.write_text(yaml.safe_dump(config))
    return path


async def test_the_kubeconfig_proxy_url_tunnels_the_requests(sim, tmp_path):
    async with ConnectProxy() as proxy:
        path = kubeconfig_with(sim, tmp_path / "config", **{"proxy-url": f"http://127.0.0.1:{proxy.port}"})
        async with KubeClient(path, context="homelab") as kube:
            assert await kube.version()
        assert proxy.tunnels == [f"127.0.0.1:{sim.port}"]


async def test_https_proxy_from_the_environment_unless_no_proxy_covers_the_server(sim, tmp_path, monkeypatch):
    path = sim.write_kubeconfig(tmp_path / "config")
    async with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with KubeClient(path, context="homelab") as kube:
            await kube.version()
        assert len(proxy.tunnels) == 1
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with KubeClient(path, context="homelab") as kube:
            await kube.version()
        assert len(proxy.tunnels) == 1  # straight to the server this time


async def test_a_quoted_false_never_turns_verification_off(sim, tmp_path):
    path = kubeconfig_with(sim, tmp_path / "config", **{"insecure-skip-tls-verify": "false"})
    with pytest.raises(KubeConfigError, match="insecure-skip-tls-verify must be true or false, not 'false'"):
        async with KubeClient(path, context="homelab") as kube:
            await kube.version()


async def test_an_untrusted_certificate_is_a_permanent_error(sim, tmp_path):
    other = KubeApiSim("other")  # another CA, never started: only its certificate is used
    path = kubeconfig_with(sim, tmp_path / "config",
                           **{"certificate-authority-data": base64.b64encode(other.ca_pem).decode()})
    with pytest.raises(KubeConfigError, match="presented a certificate the kubeconfig does not trust"):
        async with KubeClient(path, context="homelab") as kube:
            await kube.version()


async def test_a_server_port_out_of_range_names_the_server(sim, tmp_path):
    path = kubeconfig_with(sim, tmp_path / "config", server="https://127.0.0.1:99999")
    with pytest.raises(KubeConfigError, match="is not an http\\(s\\) URL with a valid port"):
        async with KubeClient(path, context="homelab") as kube:
            await kube.version()
