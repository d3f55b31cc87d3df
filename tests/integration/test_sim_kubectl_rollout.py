"""Real kubectl against the simulated cluster's workloads: `rollout status` prints the deployment
controller's real sequence and exits as it would, a template change rolls the pods through a new
ReplicaSet, `get rs,ds,endpoints,events`, `logs -f` and `logs --previous`, `cordon`, `describe`.
The sim serves from this test's event loop, so kubectl runs as an asyncio subprocess."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from homelab_tui.sim.kube_api import KubeApiSim
from tests.conftest import need_binary
from tests.integration.conftest import eventually, kubectl, rows, running_kube_sim

TOKEN = "sim-token-rollout"


@pytest.fixture
async def sim() -> AsyncIterator[KubeApiSim]:
    # Passes 0.1 s apart, durations at 1/20: a rollout takes a second or two, a back-off 0.5 s.
    async with running_kube_sim(TOKEN, controller_delay=0.1, time_scale=0.05) as server:
        yield server


async def apply(kubectl_env: dict[str, str], tmp_path: Path, manifest: str) -> None:
    path = tmp_path / "manifest.yaml"
    path.write_text(manifest)
    code, _, err = await kubectl(kubectl_env, "apply", "-f", str(path))
    assert code == 0, err


def deployment_yaml(name: str, image: str, replicas: int = 3, extra: str = "", container: str = "") -> str:
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: default}}\n"
            f"spec:\n  replicas: {replicas}\n{extra}  selector: {{matchLabels: {{app: {name}}}}}\n"
            f"  template:\n    metadata: {{labels: {{app: {name}}}}}\n"
            f"    spec: {{containers: [{{name: app, image: '{image}'{container}}}]}}\n")


async def test_rollout_status_follows_a_rollout_and_a_template_change(sim: KubeApiSim,
                                                                     kubectl_env: dict[str, str]) -> None:
    code, out, err = await kubectl(kubectl_env, "create", "deployment", "web", "--image=nginx:1.27", "--replicas=3")
    assert code == 0, err
    code, out, err = await kubectl(kubectl_env, "rollout", "status", "deployment/web", "--timeout=30s")
    assert code == 0, err
    assert out.splitlines()[-1] == 'deployment "web" successfully rolled out'
    allowed = re.compile(r'Waiting for deployment "web" rollout to finish: (\d+ out of 3 new replicas have been '
                         r'updated|\d+ of 3 updated replicas are available|\d+ old replicas are pending termination)'
                         r'\.\.\.$|Waiting for deployment spec update to be observed\.\.\.$')
    assert all(allowed.match(line) for line in out.splitlines()[:-1]), out
    _, out, _ = await kubectl(kubectl_env, "get", "rs", "-l", "app=web")
    [[first_rs, *counts, _age]] = rows(out)
    assert counts == ["3", "3", "3"]

    code, out, err = await kubectl(kubectl_env, "set", "image", "deployment/web", "nginx=nginx:1.28")
    assert code == 0, err
    code, out, err = await kubectl(kubectl_env, "rollout", "status", "deployment/web", "--timeout=30s")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[-1] == 'deployment "web" successfully rolled out'
    assert any(re.fullmatch(r'Waiting for deployment "web" rollout to finish: [12] out of 3 new replicas have been '
                            r"updated\.\.\.", line) for line in lines), out
    assert all(allowed.match(line) for line in lines[:-1]), out

    _, out, _ = await kubectl(kubectl_env, "get", "rs", "-l", "app=web", "-o", "wide")
    by_name = {r[0]: r for r in rows(out)}
    assert by_name[first_rs][1:4] == ["0", "0", "0"]
    [new_rs] = [r for name, r in by_name.items() if name != first_rs]
    assert new_rs[1:4] == ["3", "3", "3"] and new_rs[6] == "nginx:1.28"
    _, out, _ = await kubectl(kubectl_env, "get", "pods", "-l", "app=web", "-o",
                              "jsonpath={.items[*].spec.containers[0].image}")
    assert out.split() == ["nginx:1.28"] * 3
    _, out, _ = await kubectl(kubectl_env, "rollout", "history", "deployment/web")
    assert [line.split()[0] for line in out.splitlines() if line[:1].isdigit()] == ["1", "2"]


async def test_rollout_status_fails_on_the_progress_deadline(sim: KubeApiSim, kubectl_env: dict[str, str],
                                                            tmp_path: Path) -> None:
    await apply(kubectl_env, tmp_path, deployment_yaml("broken", "nginx:does-not-exist", 1,
                                                       extra="  progressDeadlineSeconds: 30\n"))
    code, out, err = await kubectl(kubectl_env, "rollout", "status", "deployment/broken", "--timeout=30s")
    assert code == 1 and err.strip() == 'error: deployment "broken" exceeded its progress deadline', (out, err)
    _, out, _ = await kubectl(kubectl_env, "get", "pods", "-l", "app=broken")
    [[_name, ready, status, restarts, _age]] = rows(out)
    assert (ready, status, restarts) == ("0/1", status, "0") and status in ("ErrImagePull", "ImagePullBackOff")


async def test_get_rs_ds_endpoints_and_events(sim: KubeApiSim, kubectl_env: dict[str, str], tmp_path: Path) -> None:
    sim.servicelb = True
    await apply(kubectl_env, tmp_path, deployment_yaml("web", "nginx:1.27", 2))
    code, out, err = await kubectl(kubectl_env, "expose", "deployment", "web", "--port=80", "--type=LoadBalancer")
    assert code == 0, err

    async def served() -> str:
        _, out, _ = await kubectl(kubectl_env, "get", "svc", "web")
        return out if rows(out)[0][3] == "192.168.40.102,192.168.40.103,192.168.40.104" else ""

    await eventually(served)
    code, out, err = await kubectl(kubectl_env, "get", "rs,ds,endpoints", "-A")
    assert code == 0, err
    sections = out.strip().split("\n\n")
    assert sections[0].split()[:6] == ["NAMESPACE", "NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert re.search(r"^default\s+replicaset\.apps/web-\w+\s+2\s+2\s+2\s", sections[0], re.M)
    assert sections[1].split()[:10] == ["NAMESPACE", "NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE",
                                        "AVAILABLE", "NODE", "SELECTOR", "AGE"]
    assert re.search(r"^kube-system\s+daemonset\.apps/svclb-web-\w{8}\s+3\s+3\s+3\s+3\s+3\s+<none>", sections[1], re.M)
    assert re.search(r"^default\s+endpoints/web\s+10\.42\.\d+\.\d+:80,10\.42\.\d+\.\d+:80\s", sections[2], re.M)

    code, out, err = await kubectl(kubectl_env, "get", "events", "--field-selector", "involvedObject.kind=Deployment")
    assert code == 0, err
    assert rows(out)[0][1:4] == ["Normal", "ScalingReplicaSet", "deployment/web"]
    assert re.search(r"Scaled up replica set web-\w+ to 2 from 0$", out.splitlines()[1])
    code, out, err = await kubectl(kubectl_env, "get", "endpointslices", "-l", "kubernetes.io/service-name=web")
    assert code == 0 and rows(out)[0][1:3] == ["IPv4", "80"], err


async def test_logs_follow_streams_new_lines(sim: KubeApiSim, kubectl_env: dict[str, str], tmp_path: Path) -> None:
    await apply(kubectl_env, tmp_path, deployment_yaml("web", "nginx:1.27", 1))
    [pod] = await eventually(lambda: asyncio.sleep(0, [p for p in sim.list("Pod", "default", "app=web")
                                                       if p["status"].get("phase") == "Running"]))
    name = pod["metadata"]["name"]
    process = await asyncio.create_subprocess_exec(need_binary("kubectl"), "logs", "-f", f"pod/{name}",
                                                   "--tail=1", env=kubectl_env, stdout=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), 10)
        assert first.decode().endswith("start worker processes\n")
        writer = sim.write_pod_logs("default", name, 500, 1.0)
        lines = [(await asyncio.wait_for(process.stdout.readline(), 10)).decode().rstrip() for _ in range(500)]
        assert lines == [f"line {n:08d} from {name}/app" for n in range(1, 501)]
        assert await writer == 500
    finally:
        process.kill()
        await process.wait()
    code, out, _ = await kubectl(kubectl_env, "logs", f"pod/{name}", "--timestamps", "--tail=1")
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z line 00000500 from {name}/app\n", out)


async def test_logs_previous_of_a_crash_looping_pod(sim: KubeApiSim, kubectl_env: dict[str, str],
                                                   tmp_path: Path) -> None:
    await apply(kubectl_env, tmp_path, deployment_yaml("crasher", "busybox:1.36", 1,
                                                       container=", command: [sh, -c, 'exit 2']"))
    [pod] = await eventually(lambda: asyncio.sleep(0, sim.list("Pod", "default", "app=crasher")))
    name = pod["metadata"]["name"]

    async def crash_looping() -> bool:
        _, out, _ = await kubectl(kubectl_env, "get", "pod", name)
        return rows(out)[0][2] == "CrashLoopBackOff"

    await eventually(crash_looping)
    code, out, err = await kubectl(kubectl_env, "logs", name, "--previous")
    assert code == 0 and out.splitlines()[-1] == "app: exiting with status 2", err
    _, out, _ = await kubectl(kubectl_env, "get", "pod", name)
    assert int(rows(out)[0][3]) >= 1  # RESTARTS
    code, out, err = await kubectl(kubectl_env, "describe", "pod", name)
    assert re.search(r"Last State:\s+Terminated\n\s+Reason:\s+Error\n\s+Exit Code:\s+2", out), out
    assert re.search(rf"Warning\s+BackOff\s+.*kubelet\s+Back-off restarting failed container app in pod "
                     rf"{name}_default", out), out

    await apply(kubectl_env, tmp_path, deployment_yaml("fine", "nginx:1.27", 1))
    [fine] = await eventually(lambda: asyncio.sleep(0, [p for p in sim.list("Pod", "default", "app=fine")
                                                        if p["status"].get("phase") == "Running"]))
    code, _, err = await kubectl(kubectl_env, "logs", fine["metadata"]["name"], "--previous")
    assert code == 1 and err.strip() == (f'Error from server (BadRequest): previous terminated container "app" in pod '
                                         f'"{fine["metadata"]["name"]}" not found')


async def test_cordon_keeps_new_pods_off_the_node(sim: KubeApiSim, kubectl_env: dict[str, str]) -> None:
    for node in ("master1", "node1", "node2"):
        code, out, err = await kubectl(kubectl_env, "cordon", node)
        assert (code, out.strip()) == (0, f"node/{node} cordoned"), err
    _, out, _ = await kubectl(kubectl_env, "get", "nodes")
    assert {r[1] for r in rows(out)} == {"Ready,SchedulingDisabled"}
    code, _, err = await kubectl(kubectl_env, "run", "waits", "--image=nginx:1.27")
    assert code == 0, err

    async def failed_scheduling() -> str:
        _, out, _ = await kubectl(kubectl_env, "describe", "pod", "waits")
        return out if "FailedScheduling" in out else ""

    out = await eventually(failed_scheduling)
    assert ("0/3 nodes are available: 3 node(s) were unschedulable. preemption: 0/3 nodes are available: "
            "3 Preemption is not helpful for scheduling.") in out
    code, out, err = await kubectl(kubectl_env, "uncordon", "node1")
    assert (code, out.strip()) == (0, "node/node1 uncordoned"), err

    async def scheduled() -> str:
        _, out, _ = await kubectl(kubectl_env, "get", "pod", "waits", "-o", "wide")
        return out if rows(out)[0][2] == "Running" else ""

    assert rows(await eventually(scheduled))[0][6] == "node1"
    _, out, _ = await kubectl(kubectl_env, "describe", "pod", "waits")
    assert re.search(r"Normal\s+Scheduled\s+.*default-scheduler\s+Successfully assigned default/waits to node1", out)
    assert re.search(r'Normal\s+Started\s+.*kubelet\s+Started container waits', out)
