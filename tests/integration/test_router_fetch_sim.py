"""/tool/fetch on the lab's router and curl on its nodes, answered from the Kubernetes sim (kube-proxy:
sim/kube_proxy.py), with librouteros's client and the node's shell: a node's NodePort answers while the
Service has a Ready endpoint and the node is Ready; else refused; an address nobody has times out."""

from __future__ import annotations

import asyncio

import librouteros
import pytest
from librouteros.exceptions import TrapError

from homelab_tui.sim.lab import NODE_PORT, Lab

NODE1, NODE1_NAME = "192.168.40.103", "node1.kube.local"


@pytest.fixture
async def lab(tmp_path):
    async with Lab("running", tmp_path / "lab") as lab:
        yield lab


async def fetch(lab: Lab, url: str) -> tuple[list[dict], str]:
    """The `!re` replies of `/tool/fetch url=<url> output=none`, and the trap's message ("" if none;
    librouteros raises it once the command is done, dropping the replies before it)."""

    def session() -> tuple[list[dict], str]:
        api = librouteros.connect("127.0.0.1", "admin", lab.router_password, port=lab.router.port, timeout=5)
        replies: list[dict] = []
        try:
            for reply in api.rawCmd("/tool/fetch", f"=url={url}", "=output=none"):
                replies.append(reply)
        except TrapError as trap:
            return replies, trap.message
        finally:
            api.close()
        return replies, ""

    return await asyncio.to_thread(session)


def no_endpoint_service(lab: Lab, node_port: int) -> None:
    lab.kube.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "nobody", "namespace": "default"},
                     "spec": {"type": "NodePort", "selector": {"app": "nobody"},
                              "ports": [{"port": 80, "targetPort": 80, "protocol": "TCP", "nodePort": node_port}]}})


async def test_router_fetch_answers_from_the_cluster(lab: Lab) -> None:
    replies, trap = await fetch(lab, f"http://{NODE1}:{NODE_PORT}/")
    assert trap == "" and [r["status"] for r in replies] == ["connecting", "finished"], replies

    no_endpoint_service(lab, 31999)
    assert (await fetch(lab, f"http://{NODE1}:31999/"))[1] == "failure: connection refused"  # kube-proxy rejects
    assert (await fetch(lab, f"http://{NODE1}:31000/"))[1] == "failure: connection refused"  # nothing listens
    # nobody has the address: RouterOS gives up after its timeout; the sim answers at once
    assert (await fetch(lab, f"http://192.168.40.250:{NODE_PORT}/"))[1] == "failure: connection timeout"

    lab.kube.set_node_ready(NODE1_NAME, False)  # its kubelet and kube-proxy stopped
    assert (await fetch(lab, f"http://{NODE1}:{NODE_PORT}/"))[1] == "failure: connection refused"
    assert (await fetch(lab, f"http://192.168.40.104:{NODE_PORT}/"))[1] == ""  # node2 still answers


async def test_router_fetch_needs_the_test_policy(lab: Lab) -> None:
    lab.router.test_policy = False
    replies, trap = await fetch(lab, f"http://{NODE1}:{NODE_PORT}/")
    assert (replies, trap) == ([], "not enough permissions (9)")


async def test_node_curl_gets_the_node_port(lab: Lab) -> None:
    node = lab.fleet[NODE1_NAME]
    curl = "curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:{port}/"
    answered = await node.run_command(curl.replace("{port}", str(NODE_PORT)))
    assert (answered.exit_status, answered.stdout) == (0, "200")
    no_endpoint_service(lab, 31999)
    refused = await node.run_command(curl.replace("{port}", "31999"))
    assert (refused.exit_status, refused.stdout) == (7, "000")
    loud = await node.run_command("curl http://127.0.0.1:31000/")
    assert loud.exit_status == 7 and "Failed to connect to 127.0.0.1 port 31000" in loud.stderr
    nobody = await node.run_command(curl.replace("127.0.0.1:{port}", "192.168.40.250:80"))
    assert (nobody.exit_status, nobody.stdout) == (28, "000")  # at once: the sim waits out no --max-time


async def test_router_client_fetch(lab: Lab) -> None:
    from homelab_tui.clients.router import FetchResult, RouterClient, RouterTrap

    async with RouterClient("127.0.0.1", lab.router.port, "admin", lab.router_password) as router:
        assert await router.fetch(f"http://{NODE1}:{NODE_PORT}/") == FetchResult(True, "finished")
        assert await router.fetch(f"http://{NODE1}:31000/") == FetchResult(False, message="failure: connection refused")
        lab.router.faults.reply_delay = 0.5
        assert await router.fetch(f"http://{NODE1}:{NODE_PORT}/", timeout=0.1) == FetchResult(
            False, message="no answer within 0.1 s")
        lab.router.faults.reply_delay = 0
        lab.router.test_policy = False
        with pytest.raises(RouterTrap, match="not enough permissions"):
            await router.fetch(f"http://{NODE1}:{NODE_PORT}/")


async def test_a_load_balancer_address_answers_on_its_port(lab: Lab) -> None:
    lab.kube.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
                     "spec": {"type": "LoadBalancer", "selector": {"app": "nginx"},
                              "ports": [{"port": 8080, "targetPort": 80, "protocol": "TCP"}]}})
    async with asyncio.timeout(10):  # ServiceLB gives it the Ready nodes' addresses
        while not (ingress := (lab.kube.get("Service", "default", "web")["status"].get("loadBalancer") or {}).get(
                "ingress")):
            await asyncio.sleep(0.01)
    address = ingress[0]["ip"]
    assert (await fetch(lab, f"http://{address}:8080/"))[1] == ""
    assert (await fetch(lab, f"http://{address}:8081/"))[1] == "failure: connection refused"


class _Kube:
    """Just what KubeProxy reads: Nodes, Services and Endpoints."""

    def __init__(self, ready_endpoints: bool) -> None:
        self.ready_endpoints = ready_endpoints

    def list(self, kind: str) -> list[dict]:
        if kind == "Node":
            return []
        return [{"metadata": {"name": "dns", "namespace": "kube-system"},
                 "spec": {"ports": [{"port": 53, "protocol": "UDP"}]},
                 "status": {"loadBalancer": {"ingress": [{"ip": "192.168.40.20"}]}}}]

    def get(self, kind: str, namespace: str, name: str) -> dict:
        return {"subsets": [{"addresses": [{"ip": "10.42.0.9"}]}]} if self.ready_endpoints else {"subsets": []}


@pytest.mark.parametrize(("ready", "address", "port", "answer"), [
    (True, "192.168.40.20", 53, "answers"), (True, "192.168.40.20", 80, "refused"),
    (False, "192.168.40.20", 53, "refused"), (True, "192.168.40.21", 53, "timeout"),
    (True, NODE1, 53, "refused"),  # a lab machine that is no Node of the cluster
])
def test_a_metallb_address_is_nobody_s_node(ready: bool, address: str, port: int, answer: str) -> None:
    from homelab_tui.sim.kube_proxy import KubeProxy

    assert KubeProxy(_Kube(ready), lambda: [NODE1]).connect(address, port) == answer  # type: ignore[arg-type]
