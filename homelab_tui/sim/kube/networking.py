"""Service networking in the simulated cluster:

- Endpoints and EndpointSlices for each Service with a selector (ready and not-ready pod
  addresses with their node and pod, the ports resolved from targetPort), and for the
  `kubernetes` Service the control plane's address, as the endpoint controllers write them;
- load balancers, as in a k3s cluster: when MetalLB is installed (the `controller` Deployment in
  `metallb-system` is available) its controller assigns addresses from the IPAddressPools in
  `metallb-system` only (MetalLB ignores pools in other namespaces); else k3s ServiceLB
  (Klipper), when enabled, runs a `svclb-<service>-<uid prefix>` DaemonSet in kube-system per
  LoadBalancer Service and reports the addresses of the nodes whose svclb pod is ready. The svclb
  DaemonSets exist whenever ServiceLB is enabled (with MetalLB too, as in k3s);
- Ingress addresses: the Ready nodes' (traefik behind ServiceLB), for Ingresses of class traefik
  or none, while traefik runs (k3s without `--disable traefik`)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from .objects import clone, labels_of, object_key
from .printing import node_address, node_roles, node_status
from .resources import JsonObject, resource_type
from .store import Store
from .verbs import Verbs
from .workloads import owner_reference, pod_ready, template_hash

METALLB_NAMESPACE = "metallb-system"
SVCLB_IMAGE = "rancher/klipper-lb:v0.4.9"
SVCLB_NAME_LABEL, SVCLB_NAMESPACE_LABEL = "svccontroller.k3s.cattle.io/svcname", "svccontroller.k3s.cattle.io/svcnamespace"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
POOL_ANNOTATION = "metallb.io/ip-allocated-from-pool"
SPEC_HASH = "sim.homelab-tui.io/spec-hash"  # what the svclb DaemonSet was made from


def pool_addresses(pool: JsonObject) -> Iterator[str]:
    """Every address of a MetalLB IPAddressPool, in order ("a-b" ranges and CIDRs)."""
    for entry in pool.get("spec", {}).get("addresses") or []:
        entry = str(entry).strip()
        try:
            if "-" in entry:
                first, last = (ipaddress.ip_address(p.strip()) for p in entry.split("-", 1))
                for value in range(int(first), int(last) + 1):
                    yield str(ipaddress.ip_address(value))
            else:
                yield from (str(ip) for ip in ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue


def _in_pool(pool: JsonObject, ip: str) -> bool:
    return any(candidate == ip for candidate in pool_addresses(pool))


def svclb_name(svc: JsonObject) -> str:
    return f"svclb-{svc['metadata']['name'][:50]}-{svc['metadata']['uid'][:8]}"


def _is_load_balancer(svc: JsonObject) -> bool:
    return svc["spec"].get("type") == "LoadBalancer" and not svc["spec"].get("loadBalancerClass")


class Networking:
    def __init__(self, store: Store, verbs: Verbs) -> None:
        self._store = store
        self._verbs = verbs
        self.servicelb = False  # k3s with ServiceLB enabled
        self.traefik = True  # an ingress controller for class traefik (k3s' bundled one)

    def reconcile(self) -> None:
        self._endpoints()
        self._service_lb_daemon_sets()
        self._load_balancers()
        self._ingresses()

    # -- Endpoints and EndpointSlices -----------------------------------------------------

    def _endpoints(self) -> None:
        services = self._store.objects["services"]
        selecting = {ns for (ns, _), svc in services.items() if svc["spec"].get("selector")}
        pods_by_namespace: dict[str, list[JsonObject]] = {}
        for (namespace, _), pod in self._store.objects["pods"].items() if selecting else ():
            status = pod.get("status") or {}
            if namespace in selecting and status.get("podIP") and not pod["metadata"].get("deletionTimestamp") \
                    and status.get("phase") not in ("Succeeded", "Failed"):
                pods_by_namespace.setdefault(namespace, []).append(pod)
        for svc in list(services.values()):
            if svc["spec"].get("selector"):
                selector = svc["spec"]["selector"]
                pods = [p for p in pods_by_namespace.get(svc["metadata"]["namespace"], [])
                        if all(labels_of(p).get(k) == v for k, v in selector.items())]
                self._write_endpoints(svc, [_pod_endpoint(p) for p in pods], _ports(svc, pods))
            elif svc["metadata"]["name"] == "kubernetes" and svc["metadata"]["namespace"] == "default":
                servers = [n for n in self._store.objects["nodes"].values() if "control-plane" in node_roles(n)]
                self._write_endpoints(svc, [{"ip": node_address(n, "InternalIP"), "ready": True} for n in servers],
                                      [{"name": "https", "port": 6443, "protocol": "TCP"}])
        for plural in ("endpoints", "endpointslices"):
            rt = resource_type(plural)
            for obj in list(self._store.objects[plural].values()):
                service = labels_of(obj).get(SERVICE_NAME_LABEL) if plural == "endpointslices" else obj["metadata"]["name"]
                if (obj["metadata"]["namespace"], service) not in services:
                    self._store.commit(rt, "DELETED", clone(obj), obj)

    def _write_endpoints(self, svc: JsonObject, endpoints: list[JsonObject], ports: list[JsonObject]) -> None:
        meta = svc["metadata"]
        endpoints.sort(key=lambda e: ipaddress.ip_address(e["ip"]))
        subset: JsonObject = {}
        ready = [{k: v for k, v in e.items() if k != "ready"} for e in endpoints if e["ready"]]
        not_ready = [{k: v for k, v in e.items() if k != "ready"} for e in endpoints if not e["ready"]]
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        body: JsonObject = {"metadata": {"name": meta["name"], "namespace": meta["namespace"],
                                         "labels": dict(labels_of(svc))}}
        if subset:
            body["subsets"] = [{**subset, "ports": ports}]
        self._upsert("endpoints", (meta["namespace"], meta["name"]), body)

        slice_body: JsonObject = {
            "metadata": {"labels": {**labels_of(svc), SERVICE_NAME_LABEL: meta["name"],
                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                         "ownerReferences": [owner_reference(svc)]},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [e["ip"]], "conditions": {"ready": e["ready"], "serving": e["ready"],
                                                                    "terminating": False},
                           **{k: e[k] for k in ("nodeName", "targetRef") if k in e}} for e in endpoints],
            "ports": ports,
        }
        existing = next((s for s in self._store.objects["endpointslices"].values()
                         if s["metadata"]["namespace"] == meta["namespace"]
                         and labels_of(s).get(SERVICE_NAME_LABEL) == meta["name"]), None)
        if existing is None:  # the API server's own Service has a slice of its name
            slice_body["metadata"]["name" if meta["name"] == "kubernetes" else "generateName"] = (
                "kubernetes" if meta["name"] == "kubernetes" else f"{meta['name']}-")
            self._verbs.create(resource_type("EndpointSlice"), meta["namespace"], {
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", **slice_body})
        else:
            self._upsert("endpointslices", object_key(existing), slice_body)

    def _upsert(self, plural: str, key: tuple[str, str], body: JsonObject) -> None:
        """Create the object at `key`, or change its fields in `body` (metadata labels included)."""
        rt = resource_type(plural)
        current = self._store.objects[plural].get(key)
        if current is None:
            self._verbs.create(rt, key[0], {"apiVersion": rt.api_version, "kind": rt.kind, **body})
            return
        updated = clone(current)
        for field, value in body.items():
            if field == "metadata":
                updated["metadata"].update(value)
            else:
                updated[field] = value
        if "subsets" not in body:
            updated.pop("subsets", None)
        if updated != current:
            self._store.commit(rt, "MODIFIED", updated, current)

    # -- k3s ServiceLB --------------------------------------------------------------------

    def _service_lb_daemon_sets(self) -> None:
        ds_rt = resource_type("DaemonSet")
        wanted = {svclb_name(s): s for s in self._store.objects["services"].values()
                  if self.servicelb and _is_load_balancer(s)}
        for ds in list(self._store.objects["daemonsets"].values()):
            if SVCLB_NAME_LABEL in labels_of(ds) and ds["metadata"]["name"] not in wanted:
                self._verbs.delete(ds_rt, *object_key(ds), None)
        if not wanted or ("", "kube-system") not in self._store.objects["namespaces"]:
            return
        for name, svc in wanted.items():
            body = _svclb_daemon_set(name, svc)
            current = self._store.objects["daemonsets"].get(("kube-system", name))
            if current is None:
                self._verbs.create(ds_rt, "kube-system", body)
            elif current["metadata"].get("annotations", {}).get(SPEC_HASH) != body["metadata"]["annotations"][SPEC_HASH]:
                self._verbs.replace(ds_rt, "kube-system", name, {**clone(current), "spec": body["spec"], "metadata": {
                    **clone(current["metadata"]), "annotations": body["metadata"]["annotations"]}})

    # -- load balancer addresses ------------------------------------------------------------

    def metallb_running(self) -> bool:
        controller = self._store.objects["deployments"].get((METALLB_NAMESPACE, "controller"))
        return bool(controller and (controller.get("status") or {}).get("availableReplicas"))

    def _load_balancers(self) -> None:
        if self.metallb_running():
            self._assign_from_pools()
        elif self.servicelb:
            self._report_svclb_nodes()

    def _report_svclb_nodes(self) -> None:
        svc_rt = resource_type("Service")
        ready_nodes: dict[tuple[str, str], set[str]] = {}
        for pod in self._store.objects["pods"].values():
            labels = labels_of(pod)
            if SVCLB_NAME_LABEL in labels and pod_ready(pod):
                ready_nodes.setdefault((labels[SVCLB_NAMESPACE_LABEL], labels[SVCLB_NAME_LABEL]), set()).add(
                    pod["spec"].get("nodeName", ""))
        nodes = self._store.objects["nodes"]
        for svc in list(self._store.objects["services"].values()):
            if not _is_load_balancer(svc):
                continue
            ips = sorted({node_address(nodes[("", n)], "InternalIP") for n in ready_nodes.get(object_key(svc), ())
                          if ("", n) in nodes}, key=ipaddress.ip_address)
            wanted = {"ingress": [{"ip": ip, "ipMode": "VIP"} for ip in ips]} if ips else {}
            if svc.get("status", {}).get("loadBalancer") != wanted:
                updated = clone(svc)
                updated.setdefault("status", {})["loadBalancer"] = wanted
                self._store.commit(svc_rt, "MODIFIED", updated, svc)

    def _assign_from_pools(self) -> None:
        svc_rt = resource_type("Service")
        pools = sorted((p for p in self._store.objects.get("ipaddresspools", {}).values()
                        if p["metadata"].get("namespace") == METALLB_NAMESPACE),
                       key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]))
        services = sorted(self._store.objects["services"].values(), key=lambda s: s["metadata"]["creationTimestamp"])
        in_use = {i.get("ip") for s in services if s["metadata"].get("annotations", {}).get(POOL_ANNOTATION)
                  for i in s.get("status", {}).get("loadBalancer", {}).get("ingress") or []}
        for svc in services:
            ingress = svc.get("status", {}).get("loadBalancer", {}).get("ingress") or []
            current_ip = ingress[0].get("ip") if ingress else None
            is_lb = _is_load_balancer(svc)
            owning_pool = next((p for p in pools if current_ip and _in_pool(p, current_ip)), None)
            if current_ip and is_lb and owning_pool and len(ingress) == 1:
                continue
            if current_ip:  # no longer a LoadBalancer, its pool is gone, or not MetalLB's: revoke
                in_use.discard(current_ip)
            assignment = _pick_lb_ip(svc, pools, in_use) if is_lb else None
            if assignment is None and not current_ip:
                continue
            updated = clone(svc)
            annotations = updated["metadata"].setdefault("annotations", {})
            if assignment:
                pool, ip = assignment
                in_use.add(ip)
                updated["status"]["loadBalancer"] = {"ingress": [{"ip": ip, "ipMode": "VIP"}]}
                annotations[POOL_ANNOTATION] = pool["metadata"]["name"]
            else:
                updated["status"]["loadBalancer"] = {}
                annotations.pop(POOL_ANNOTATION, None)
            self._store.commit(svc_rt, "MODIFIED", updated, svc)

    # -- Ingress ----------------------------------------------------------------------------

    def _ingresses(self) -> None:
        """Ingresses of class traefik (or none) get the Ready nodes' addresses, as k3s' traefik
        behind ServiceLB reports them; other classes have no controller here."""
        ingress_rt = resource_type("Ingress")
        addresses = [{"ip": node_address(n, "InternalIP")}
                     for n in self._store.select(resource_type("Node"), None) if node_status(n).startswith("Ready")]
        served = {"loadBalancer": {"ingress": addresses}} if addresses else {"loadBalancer": {}}
        for ingress in list(self._store.objects["ingresses"].values()):
            wanted = served if self.traefik and (ingress.get("spec") or {}).get("ingressClassName") in (
                None, "traefik") else {"loadBalancer": {}}
            if ingress.get("status") != wanted:
                self._store.commit(ingress_rt, "MODIFIED", {**clone(ingress), "status": wanted}, ingress)


def _pick_lb_ip(svc: JsonObject, pools: list[JsonObject], in_use: set[str | None]) -> tuple[JsonObject, str] | None:
    annotations = svc["metadata"].get("annotations") or {}
    requested = (annotations.get("metallb.io/loadBalancerIPs") or annotations.get("metallb.universe.tf/"
                 "loadBalancerIPs") or svc["spec"].get("loadBalancerIP") or "").split(",")[0].strip()
    wanted_pool = annotations.get("metallb.io/address-pool") or annotations.get("metallb.universe.tf/address-pool")
    for pool in pools:
        if wanted_pool and pool["metadata"]["name"] != wanted_pool:
            continue
        if requested:
            if requested not in in_use and _in_pool(pool, requested):
                return pool, requested
            continue
        if pool["spec"].get("autoAssign", True) or wanted_pool:
            ip = next((ip for ip in pool_addresses(pool) if ip not in in_use), None)
            if ip:
                return pool, ip
    return None


def _pod_endpoint(pod: JsonObject) -> JsonObject:
    meta = pod["metadata"]
    endpoint: JsonObject = {"ip": pod["status"]["podIP"], "ready": pod_ready(pod)}
    if pod["spec"].get("nodeName"):
        endpoint["nodeName"] = pod["spec"]["nodeName"]
    endpoint["targetRef"] = {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}
    return endpoint


def _ports(svc: JsonObject, pods: list[JsonObject]) -> list[JsonObject]:
    """The endpoint ports: each Service port's targetPort, a name resolved in the pods' containers."""
    ports = []
    for port in svc["spec"].get("ports") or []:
        target = port.get("targetPort", port.get("port"))
        if isinstance(target, str) and not target.isdigit():
            named = (p.get("containerPort") for pod in pods for c in pod["spec"].get("containers") or []
                     for p in c.get("ports") or [] if p.get("name") == target)
            target = next(named, None)
            if target is None:
                continue
        entry: JsonObject = {"port": int(target), "protocol": port.get("protocol", "TCP")}
        if port.get("name"):
            entry = {"name": port["name"], **entry}
        ports.append(entry)
    return ports


def _svclb_daemon_set(name: str, svc: JsonObject) -> JsonObject:
    meta, svc_spec = svc["metadata"], svc["spec"]
    labels = {SVCLB_NAME_LABEL: meta["name"], SVCLB_NAMESPACE_LABEL: meta["namespace"]}
    containers = [{
        "name": f"lb-{p.get('protocol', 'TCP').lower()}-{p['port']}", "image": SVCLB_IMAGE,
        "env": [{"name": "SRC_PORT", "value": str(p["port"])}, {"name": "SRC_RANGES", "value": "0.0.0.0/0"},
                {"name": "DEST_PROTO", "value": p.get("protocol", "TCP")},
                {"name": "DEST_PORT", "value": str(p["port"])}, {"name": "DEST_IPS", "value": svc_spec.get("clusterIP", "")}],
        "ports": [{"name": f"lb-{p.get('protocol', 'TCP').lower()}-{p['port']}", "containerPort": p["port"],
                   "hostPort": p["port"], "protocol": p.get("protocol", "TCP")}],
        "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
    } for p in svc_spec.get("ports") or []]
    spec: JsonObject = {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name, **labels}},
                              "spec": {"containers": containers, "serviceAccountName": "svclb",
                                       "automountServiceAccountToken": False,
                                       "priorityClassName": "system-node-critical",
                                       "tolerations": [{"key": "node-role.kubernetes.io/master", "operator": "Exists",
                                                        "effect": "NoSchedule"},
                                                       {"key": "CriticalAddonsOnly", "operator": "Exists"}]}},
                 "updateStrategy": {"type": "RollingUpdate",
                                    "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}}
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "kube-system",
                     "labels": {**labels, "svccontroller.k3s.cattle.io/nodeselector": "false"},
                     "annotations": {SPEC_HASH: template_hash(spec)}},
        "spec": spec,
    }
