"""Simulated Kubernetes API server (k3s flavoured) on loopback, with bearer-token auth.

It serves HTTPS with a throwaway CA by default, like k3s: kubectl only sends credentials over TLS
(client-go's clientcmd drops the user's token for an http:// server), so plain HTTP (`tls=False`)
works for kubernetes-asyncio and aiohttp but not for kubectl.

It speaks enough of the real REST API for `kubectl` and kubernetes-asyncio:
- discovery (/version, /api, /apis and each group version);
- list and watch with one global resourceVersion, a bounded watch history (410 Expired when a
  watch starts too far back), `timeoutSeconds`, label and field selectors;
- server-side Table printing, which is what `kubectl get` asks for;
- create, get, replace (409 on a stale resourceVersion), merge / strategic-merge patch, delete,
  pods/log (with follow), pods/eviction, deployments/scale and */status;
- server-side apply with managedFields and conflicts, dryRun=All, and fieldValidation
  (Strict / Warn / Ignore) against a compact schema of the built-in kinds;
- CRDs: a CustomResourceDefinition makes its group, version and kind served until it is deleted
  (MetalLB's IPAddressPool and L2Advertisement too: `install_metallb`), and MetalLB's webhook
  refuses for `metallb_webhook_warmup` seconds after its controller becomes available;
- Status bodies for errors, shaped like the real ones (NotFound, AlreadyExists, Conflict, Invalid).

A small controller, run as one asyncio task, does what kube-controller-manager, the scheduler,
the kubelets, k3s ServiceLB and MetalLB would (kube/controller.py): Deployment -> ReplicaSet ->
Pods with rolling updates, DaemonSets, pod lifecycles with image-pull and crash-loop failures
(rules in kube/pods.py), Events, Endpoints and EndpointSlices, garbage collection, LoadBalancer
addresses. Cluster IPs and node ports are allocated synchronously on create, as the real API
server does. `time_scale` shortens every duration the controller waits out (back-offs, progress
deadlines) for tests.

`KubeApiSim` assembles the parts in `homelab_tui.sim.kube` (store, verbs, admission, controller,
HTTP, TLS) and adds the plain-Python API the lab and the tests seed and steer it with.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import ipaddress
import os
import ssl
from collections.abc import Sequence
from pathlib import Path

import yaml

from homelab_tui.files import atomic_write

from .kube.admission import Admission
from .kube.controller import Controller, node_conditions
from .kube.http import HttpApi
from .kube.logs import append as append_log
from .kube.objects import clone, labels_of, merge_patch, timestamp
from .kube.metallb import manifest_documents as metallb_documents
from .kube.resources import K3S_VERSION, JsonObject, ResourceType, resource_type
from .kube.selectors import compile_label_selector
from .kube.store import Store
from .kube.tls import make_tls_material
from .kube.verbs import DEFAULT_NAMESPACES, Verbs


class KubeApiSim:
    """The simulated API server. Plain methods (add_node, create, get, delete, ...) change the same
    state the HTTP API serves, so a lab or a test can seed and steer it without HTTP."""

    def __init__(self, token: str, pod_cidr: str = "10.42.0.0/16", service_cidr: str = "10.43.0.0/16",
                 history_limit: int = 1000, controller_delay: float = 0.0, seed: int = 0, tls: bool = True,
                 time_scale: float = 1.0, metallb_webhook_warmup: float = 2.0):
        self._token = token
        self.ca_pem, server_ssl = make_tls_material() if tls else (b"", None)
        services = ipaddress.ip_network(service_cidr)
        self._store = Store(history_limit, seed)
        self._admission = Admission(self._store, services, metallb_webhook_warmup)
        self._verbs = Verbs(self._store, self._admission)
        self._controller = Controller(self._store, self._verbs, ipaddress.ip_network(pod_cidr), controller_delay,
                                      time_scale)
        self._http = HttpApi(self._store, self._verbs, token, server_ssl)
        for namespace in DEFAULT_NAMESPACES:
            self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        self._create_kubernetes_service(services)

    def _create_kubernetes_service(self, services: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
        """The API server's own Service, on the first address of the service CIDR."""
        self.create({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": str(services.network_address + 1),
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]},
        })

    def install_networks(self, pod_cidr: str, service_cidr: str) -> None:
        """The CIDRs a fresh cluster is installed with (k3s --cluster-cidr/--service-cidr, kubeadm
        --pod-network-cidr/--service-cidr): nodes get pod subnets from the one, Services addresses
        from the other, and the `kubernetes` Service moves to its first address."""
        services = ipaddress.ip_network(service_cidr)
        self._controller.set_pod_cidr(ipaddress.ip_network(pod_cidr))
        self._admission.use_service_cidr(services)
        self.delete("Service", "default", "kubernetes")
        self._create_kubernetes_service(services)

    def __repr__(self) -> str:  # never show the token
        return f"KubeApiSim(url={self.url!r}, objects={sum(map(len, self._store.objects.values()))})"

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def url(self) -> str:
        return f"{'https' if self.ca_pem else 'http'}://127.0.0.1:{self.port}"

    def client_ssl_context(self) -> ssl.SSLContext | None:
        """An SSLContext trusting this server's CA (None for plain HTTP), for raw HTTP clients."""
        return ssl.create_default_context(cadata=self.ca_pem.decode()) if self.ca_pem else None

    @property
    def running(self) -> bool:
        return self._http.serving

    async def start(self) -> None:
        """Listen on 127.0.0.1 (an OS-picked port the first time, the same port after a stop)."""
        if self.running:
            return
        await self._http.start()
        self._controller.start()

    async def stop(self) -> None:
        """Pause the controller, close open watches and log streams, and stop serving."""
        if not self.running:
            return
        await self._controller.stop()
        await self._http.stop()

    async def __aenter__(self) -> KubeApiSim:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def kubeconfig_text(self, cluster_name: str = "homelab", context: str = "homelab",
                        user: str | None = None) -> str:
        """A kubeconfig for this server that kubectl and kubernetes-asyncio accept."""
        user = user or f"{cluster_name}-admin"
        cluster: JsonObject = {"server": self.url}
        if self.ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        config = {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": cluster_name, "cluster": cluster}],
            "users": [{"name": user, "user": {"token": self._token}}],
            "contexts": [{"name": context, "context": {"cluster": cluster_name, "user": user,
                                                       "namespace": "default"}}],
            "current-context": context,
        }
        return yaml.safe_dump(config, sort_keys=False)

    def write_kubeconfig(self, path: str | os.PathLike[str], cluster_name: str = "homelab",
                         context: str = "homelab") -> Path:
        """Write the kubeconfig atomically, mode 0600."""
        return atomic_write(path, self.kubeconfig_text(cluster_name, context), backup=False)

    # -- plain-Python state API ---------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._store.rv

    @property
    def open_watches(self) -> int:
        return len(self._store.watchers)

    @property
    def metallb_webhook_warmup(self) -> float:
        """Seconds MetalLB's webhook refuses after its controller becomes available."""
        return self._admission.metallb_webhook.warmup

    @metallb_webhook_warmup.setter
    def metallb_webhook_warmup(self, seconds: float) -> None:
        self._admission.metallb_webhook.warmup = seconds

    def _type(self, kind: str) -> ResourceType:
        """A served type by kind, plural or short name (custom resources while their CRD exists)."""
        return self._store.types.lookup(kind)

    def create(self, obj: JsonObject) -> JsonObject:
        """Create an object exactly as a POST would (defaults, validation, allocation)."""
        rt = self._type(obj.get("kind", ""))
        return clone(self._verbs.create(rt, obj.get("metadata", {}).get("namespace") or "default", obj))

    @staticmethod
    def metallb_manifest() -> str:
        """The parts of MetalLB's metallb-native.yaml the sim serves, as a multi-document YAML
        (namespace, CRDs, webhook Service, controller Deployment, speaker DaemonSet)."""
        return yaml.safe_dump_all(metallb_documents(), sort_keys=False)

    def install_metallb(self, controller: bool = True) -> None:
        """Install MetalLB as `kubectl apply -f metallb-native.yaml` would: its namespace and CRDs,
        and (`controller`) its webhook Service, controller Deployment and speaker DaemonSet. Without
        the controller no webhook is registered, so pools are accepted at once."""
        served = {rt.kind for rt in self._store.types.all()}
        for document in metallb_documents():
            if document["kind"] not in served or (
                    document["kind"] not in ("Namespace", "CustomResourceDefinition") and not controller):
                continue
            namespace = document["metadata"].get("namespace")
            if self.get(document["kind"], namespace, document["metadata"]["name"]) is None:
                self.create(document)

    async def wait_for_metallb(self, timeout: float = 10.0) -> None:
        """Wait until MetalLB's controller is available and its webhook answers (a running server)."""
        async with asyncio.timeout(timeout):
            while not self._admission.metallb_webhook.answering:
                await asyncio.sleep(0.02)

    def get(self, kind: str, namespace: str | None, name: str) -> JsonObject | None:
        rt = self._type(kind)
        found = self._store.objects[rt.plural].get(((namespace or "") if rt.namespaced else "", name))
        return clone(found) if found else None

    def list(self, kind: str, namespace: str | None = None, label_selector: str = "") -> list[JsonObject]:
        rt = self._type(kind)
        match = compile_label_selector(label_selector)
        return [clone(o) for o in self._store.select(rt, namespace) if match(labels_of(o))]

    def delete(self, kind: str, namespace: str | None, name: str, grace_period: int | None = None) -> None:
        """Delete like the API: pods on a node terminate gracefully (the controller removes them)."""
        rt = self._type(kind)
        self._verbs.delete(rt, namespace or "", name, grace_period)

    def update_status(self, kind: str, namespace: str | None, name: str, status: JsonObject) -> JsonObject:
        """Merge `status` into an object's status, e.g. to make a pod CrashLoopBackOff."""
        rt = self._type(kind)
        current = self._store.require(rt, namespace or "", name)
        updated = merge_patch(current, {"status": status})
        return clone(self._store.commit(rt, "MODIFIED", updated, current))

    def add_node(self, name: str, address: str, arch: str = "arm64",
                 roles: Sequence[str] = ("control-plane", "master"), ready: bool = True,
                 kubelet_version: str = K3S_VERSION, os_image: str = "Ubuntu 24.04.1 LTS",
                 cpu: str = "4", memory: str = "3880Mi", labels: dict[str, str] | None = None) -> JsonObject:
        """Register a node, as a kubelet does when it joins."""
        subnet = self._controller.node_subnet(name)
        node_labels = {
            "beta.kubernetes.io/arch": arch, "beta.kubernetes.io/instance-type": "k3s",
            "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": arch, "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "k3s",
            **{f"node-role.kubernetes.io/{role}": "true" for role in roles}, **(labels or {}),
        }
        resources = {"cpu": cpu, "memory": memory, "pods": "110", "ephemeral-storage": "61202244Ki"}
        node = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": node_labels,
                         "annotations": {"k3s.io/internal-ip": address, "k3s.io/hostname": name}},
            "spec": {"podCIDR": str(subnet), "podCIDRs": [str(subnet)],
                     "providerID": f"k3s://{name}"},
            "status": {
                "addresses": [{"type": "InternalIP", "address": address}, {"type": "Hostname", "address": name}],
                "capacity": resources, "allocatable": dict(resources),
                "conditions": node_conditions(ready),
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "architecture": arch, "bootID": str(self._store.new_uid()), "containerRuntimeVersion":
                    "containerd://1.7.23-k3s2", "kernelVersion": "6.8.0-1015-raspi",
                    "kubeProxyVersion": kubelet_version, "kubeletVersion": kubelet_version,
                    "machineID": self._store.new_uid().hex, "operatingSystem": "linux", "osImage": os_image,
                    "systemUUID": str(self._store.new_uid()),
                },
            },
        }
        return self.create(node)

    def set_node_ready(self, name: str, ready: bool) -> None:
        rt = resource_type("Node")
        node = self._store.require(rt, "", name)
        updated = clone(node)
        updated["status"]["conditions"] = node_conditions(ready)
        self._store.commit(rt, "MODIFIED", updated, node)

    def append_pod_log(self, namespace: str, name: str, line: str, container: str | None = None) -> None:
        """Add a line to the log of a pod's running container (followers receive it at once)."""
        self._store.require(resource_type("Pod"), namespace, name)
        append_log(self._store, self._controller.pods.running_log_key(namespace, name, container), [line])

    def write_pod_logs(self, namespace: str, name: str, lines_per_second: float, seconds: float | None = None,
                       container: str | None = None) -> asyncio.Task[int]:
        """Make a running container print numbered lines (`line 00000001 from <pod>/<container>`)
        at `lines_per_second` for `seconds` (None: while it runs); the task returns how many it
        wrote. A pod template can ask for the same with the annotation
        `sim.homelab-tui.io/log-lines-per-second` (and `sim.homelab-tui.io/log-seconds`)."""
        pod = self._store.require(resource_type("Pod"), namespace, name)
        key = self._controller.pods.running_log_key(namespace, name, container)
        label = f"{name}/{container or pod['spec']['containers'][0]['name']}"
        return self._controller.write_logs(key, label, lines_per_second, seconds)

    @property
    def servicelb(self) -> bool:
        """k3s ServiceLB (Klipper) runs: svclb DaemonSets for LoadBalancer Services."""
        return self._controller.networking.servicelb

    @servicelb.setter
    def servicelb(self, enabled: bool) -> None:
        self._controller.networking.servicelb = enabled
        self._store.changed.set()

    @property
    def traefik(self) -> bool:
        """k3s' traefik runs: Ingresses of class traefik (or none) get the nodes' addresses."""
        return self._controller.networking.traefik

    @traefik.setter
    def traefik(self, enabled: bool) -> None:
        self._controller.networking.traefik = enabled
        self._store.changed.set()

    @property
    def time_scale(self) -> float:
        return self._controller.time_scale

    @time_scale.setter
    def time_scale(self, scale: float) -> None:
        self._controller.time_scale = scale

    def force_compact(self) -> None:
        """Drop the watch history: every watch from an older resourceVersion now gets 410 Expired,
        and open watches receive the 410 ERROR event and end, as after an etcd compaction."""
        self._store.compact()

    def seed_pods(self, count: int, nodes: Sequence[str] | int, namespace_count: int = 10,
                  prefix: str = "app") -> list[str]:
        """Create `count` Running pods spread over `nodes` (names, or a count of nodes to add) and
        `namespace_count` namespaces (`<prefix>-ns-NN`), directly and without controller delay.
        Returns the node names used."""
        gc_was_enabled = gc.isenabled()
        gc.disable()  # half the time of building 10k pods goes to collections that find nothing
        try:
            return self._seed_pods(count, nodes, namespace_count, prefix)
        finally:
            if gc_was_enabled:
                gc.enable()

    def _seed_pods(self, count: int, nodes: Sequence[str] | int, namespace_count: int, prefix: str) -> list[str]:
        if isinstance(nodes, int):
            node_names = [f"{prefix}-node-{i:02d}" for i in range(nodes)]
            for i, node_name in enumerate(node_names):
                if self.get("Node", None, node_name) is None:
                    self.add_node(node_name, f"10.99.{i // 250}.{i % 250 + 1}", roles=())
        else:
            node_names = list(nodes)
        pod_rt = resource_type("Pod")
        namespaces = [f"{prefix}-ns-{i:02d}" for i in range(namespace_count)]
        for namespace in namespaces:
            if self.get("Namespace", None, namespace) is None:
                self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        used_ips, now = self._controller.used_pod_ips(), timestamp()
        for i in range(count):
            node = self._store.require(resource_type("Node"), "", node_names[i % len(node_names)])
            pod = {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"{prefix}-{i:05d}-{self._store.name_suffix()}",
                             "namespace": namespaces[i % len(namespaces)], "labels": {"app": f"{prefix}-{i % 20}"}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            }
            pod = self._verbs.new_object(pod_rt, pod["metadata"]["namespace"], pod)
            pod = self._controller.start_pod(self._controller.bind_pod(pod, node, used_ips, now), now)
            self._store.commit(pod_rt, "ADDED", pod, None)
        return node_names
