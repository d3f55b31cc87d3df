"""MetalLB: a pool of LAN addresses for LoadBalancer Services, in layer 2 mode. `metallb_plan` is
pure: it installs MetalLB when it is not (each document of its native manifest, then waits for the
controller and the webhook behind it), disables k3s's ServiceLB, which fights MetalLB over every
LoadBalancer Service (k3s#1969), turns on strictARP for kube-proxy in IPVS mode, and applies an
IPAddressPool and an L2Advertisement naming it (`spec.ipAddressPools`) in MetalLB's namespace:
MetalLB ignores custom resources anywhere else, and an unknown field such as seed 03's
`addresspools` is refused by the strict apply instead of being dropped. Every object goes through
`manifests.apply_steps`, read against its live state and the server's dry run (`facts.objects`):
a no-op when nothing changes, and an undo that deletes what it created or puts back what it
changed. The pool and the advertisement carry our labels (instance: the pool's name); MetalLB's
own documents are applied as its manifest has them.

The pool is refused when it overlaps a node, the gateway, the router's DHCP pool or a static
lease, or lies outside the LAN: MetalLB checks none of these (metallb#306, #772). Run again on the
state it made, every step is a no-op with its reason."""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from . import Plan, PlanError, Step, Target
from .actions import WEBHOOK_NOT_READY, PatchObject, Run, WaitEndpoints, WaitRollout, object_text
from .manifests import JsonObject, LiveObject, apply_steps, object_id, ordered, ours, owned_elsewhere
from .nodes import kubectl, sh_quote, sudo_rendering

API_VERSION = "metallb.io/v1beta1"
NAMESPACE = "metallb-system"  # the native manifest's
CONTROLLER = "controller"
WEBHOOK_SERVICE = "metallb-webhook-service"
DEFAULT_POOL = "homelab"
WEBHOOK_GRACE = 60.0  # seconds a just-installed webhook may refuse the pool (metallb#1540, #1597)
SERVICELB_CHOICES = ("disable", "refuse")
K3S_CONFIG = "/etc/rancher/k3s/config.yaml"
KUBE_PROXY = "kube-proxy"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
ROLLOUT_MANAGER = "kubectl-rollout"  # as `kubectl rollout restart` patches

_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

IPv4 = ipaddress.IPv4Address


@dataclass(frozen=True)
class MetallbAnswers:
    range: str  # a.b.c.d-a.b.c.e or a CIDR
    pool: str = DEFAULT_POOL
    servicelb: str = "disable"  # what to do with k3s's ServiceLB: disable it, or refuse to go on
    manifest: str = ""  # where the install comes from (cluster.metallb_manifest)
    context: str = ""  # the kubeconfig context, for the renderings


@dataclass(frozen=True)
class RouterLan:
    """The LAN as the router has it."""

    network: str = ""  # the router's network holding the nodes, "192.168.40.0/24"; "" when none does
    gateways: tuple[str, ...] = ()  # the router's address on it, the DHCP networks' gateways
    dhcp_pools: tuple[tuple[str, str], ...] = ()  # (pool, "a-b,c-d") the DHCP servers lease from
    static_leases: tuple[tuple[str, str], ...] = ()  # (address, whose: host name or MAC)


@dataclass(frozen=True)
class K3sServer:
    """A k3s server, read over SSH: its config file (None when absent) and its systemd unit."""

    name: str  # the config node
    config: str | None = None  # /etc/rancher/k3s/config.yaml
    unit: str = ""  # /etc/systemd/system/k3s.service, whose ExecStart holds the install's flags


@dataclass(frozen=True)
class MetallbFacts:
    nodes: dict[str, str] = field(default_factory=dict)  # node name → address (the API's InternalIPs, the config's)
    router: RouterLan | None = None  # None: the router was not read
    router_skipped: str = ""  # why not: "no [router] in the config", "the router could not be read (...)"
    served: bool = False  # the API serves metallb.io/v1beta1 IPAddressPools
    controller: str = ""  # "namespace/name" of MetalLB's controller Deployment, "" when there is none
    controller_available: bool = False
    manifest: tuple[dict[str, Any], ...] = ()  # the install's documents, read when MetalLB is not installed
    pools: dict[str, tuple[str, ...]] = field(default_factory=dict)  # its IPAddressPools' addresses
    objects: dict[str, LiveObject] = field(default_factory=dict)  # what desired_objects applies, by object_id
    svclb: tuple[str, ...] = ()  # ServiceLB's svclb-* DaemonSets in kube-system
    k3s_servers: tuple[K3sServer, ...] = ()  # the servers of a k3s cluster
    kube_proxy: str | None = None  # kube-system/kube-proxy's config.conf (kubeadm); None without one
    now: str = ""  # RFC 3339: when kube-proxy is restarted (its restartedAt)


# -- the answers ------------------------------------------------------------------------------


def pool_range(text: str) -> tuple[IPv4, IPv4]:
    """(first, last) address of a range `a.b.c.d-a.b.c.e` or a CIDR; PlanError on --range."""
    text = text.strip()
    if not text:
        raise PlanError("--range", "required: a range such as 192.168.40.20-192.168.40.30, or a CIDR such as "
                                   "192.168.40.16/28")
    try:
        if "-" in text:
            low, high = (IPv4(part.strip()) for part in text.split("-", 1))
        else:
            network = ipaddress.IPv4Network(text, strict=True)
            low, high = network.network_address, network.broadcast_address
    except ipaddress.AddressValueError:
        raise PlanError("--range", f"expected an IPv4 range such as 192.168.40.20-192.168.40.30 or a CIDR "
                                   f"such as 192.168.40.16/28, got {text!r}") from None
    except ValueError as error:  # host bits set, a bad prefix
        raise PlanError("--range", f"{text} is not a CIDR ({error})") from None
    if high < low:
        raise PlanError("--range", f"{text}: the range ends before it starts")
    return low, high


def pool_entry(text: str) -> str:
    """The range as the pool holds it: `a-b` without spaces, or the CIDR."""
    return "-".join(part.strip() for part in text.strip().split("-", 1))


def check_answers(answers: MetallbAnswers) -> None:
    """What can be checked before the lab is contacted: one PlanError naming every bad answer."""
    errors = []
    try:
        pool_range(answers.range)
    except PlanError as error:
        errors += error.errors
    if len(answers.pool) > 253 or not _DNS_SUBDOMAIN.fullmatch(answers.pool):
        errors.append(("--pool", f"{answers.pool!r} is not a Kubernetes name: lower case letters, digits, '-' and "
                                 "'.', starting and ending with a letter or digit"))
    if answers.servicelb not in SERVICELB_CHOICES:
        errors.append(("--servicelb", f"expected {' or '.join(SERVICELB_CHOICES)}, got {answers.servicelb!r}"))
    PlanError.check(errors)


def _ranges(text: str) -> Iterator[tuple[str, IPv4, IPv4]]:
    """RouterOS pool ranges, "a-b,c": (entry, first, last)."""
    for entry in filter(None, (part.strip() for part in text.split(","))):
        low, _, high = entry.partition("-")
        try:
            yield entry, IPv4(low), IPv4(high or low)
        except ipaddress.AddressValueError:
            continue


def _pool_problems(answers: MetallbAnswers, facts: MetallbFacts, namespace: str) -> list[tuple[str, str]]:
    """Why the pool's addresses cannot be MetalLB's: each overlap, named."""
    first, last = pool_range(answers.range)
    entry = pool_entry(answers.range)

    def inside(address: str) -> bool:
        try:
            return first <= IPv4(address) <= last
        except ipaddress.AddressValueError:
            return False

    problems = [f"{entry} holds the address of node {name} ({address})"
                for name, address in sorted(facts.nodes.items()) if inside(address)]
    lan = facts.router
    if lan is not None:
        problems += [f"{entry} holds the gateway {gateway}" for gateway in lan.gateways if inside(gateway)]
        if lan.network:
            network = ipaddress.IPv4Network(lan.network, strict=False)
            if not (first in network and last in network):
                problems.append(f"{entry} lies outside the LAN {network}, where the nodes are")
            else:
                problems += [f"{entry} holds the LAN's {what} address {address}" for what, address in
                             (("network", network.network_address), ("broadcast", network.broadcast_address))
                             if first <= address <= last]
        for name, ranges in lan.dhcp_pools:
            problems += [f"{entry} overlaps the router's DHCP pool {name} ({dhcp}): the router would lease "
                         "the same addresses" for dhcp, low, high in _ranges(ranges) if low <= last and first <= high]
        problems += [f"{entry} holds the static DHCP lease {address} ({whose})"
                     for address, whose in lan.static_leases if inside(address)]
    for name, addresses in sorted(facts.pools.items()):
        if name == answers.pool:
            continue
        for other in addresses:
            try:
                low, high = pool_range(other)
            except PlanError:
                continue
            if low <= last and first <= high:
                problems.append(f"{entry} overlaps IPAddressPool {namespace}/{name} ({other})")
    return [("--range", problem) for problem in problems]


# -- the plan ---------------------------------------------------------------------------------


def metallb_plan(answers: MetallbAnswers, facts: MetallbFacts) -> Plan:
    check_answers(answers)
    namespace = _namespace(facts)
    PlanError.check(_pool_problems(answers, facts, namespace))
    install, install_warnings = _install_steps(answers, facts, kubectl(answers.context), namespace)
    pool, pool_warnings = _pool_steps(answers, facts, namespace)
    steps = [*_servicelb_steps(answers, facts), *_strict_arp_steps(facts, kubectl(answers.context)), *install, *pool]
    warnings = [*install_warnings, *pool_warnings]
    if facts.router is None:
        warnings.append(f"the pool was not checked against the router's DHCP pool and static leases: "
                        f"{facts.router_skipped or 'no router'}")
    elif not facts.router.network:
        warnings.append("the pool was not checked against the LAN: no address of the router holds the nodes")
    return Plan(f"MetalLB pool {answers.pool}: {pool_entry(answers.range)}", tuple(steps), warnings=tuple(warnings))


def desired_objects(answers: MetallbAnswers, cluster: MetallbFacts) -> list[JsonObject]:
    """What the plan applies, for the flow to read: MetalLB's documents when it is not installed
    (namespace and CRDs first), then the pool and its advertisement."""
    return [*_install_documents(cluster), *_pool_objects(answers, _namespace(cluster))]


def _installed(facts: MetallbFacts) -> bool:
    return facts.served and bool(facts.controller)


def _namespace(facts: MetallbFacts) -> str:
    """MetalLB's namespace: its controller's, or the manifest's when it is not installed."""
    if _installed(facts):
        return facts.controller.split("/")[0]
    return next((doc["metadata"].get("namespace") or NAMESPACE for doc in facts.manifest
                 if doc.get("kind") == "Deployment" and doc["metadata"].get("name") == CONTROLLER), NAMESPACE)


def _install_documents(facts: MetallbFacts) -> list[JsonObject]:
    return [] if _installed(facts) else ordered(list(facts.manifest))


def _pool_objects(answers: MetallbAnswers, namespace: str) -> tuple[JsonObject, JsonObject]:
    """The IPAddressPool, and the L2Advertisement naming it, labelled as ours."""
    meta = {"name": answers.pool, "namespace": namespace}
    pool = {"apiVersion": API_VERSION, "kind": "IPAddressPool", "metadata": meta,
            "spec": {"addresses": [pool_entry(answers.range)]}}
    advertisement = {"apiVersion": API_VERSION, "kind": "L2Advertisement", "metadata": meta,
                     "spec": {"ipAddressPools": [answers.pool]}}
    return ours(pool, answers.pool, namespace, True), ours(advertisement, answers.pool, namespace, True)


def _object_steps(objects: list[JsonObject], facts: MetallbFacts, key: str, webhook_grace: float = 0.0,
                  ) -> tuple[list[Step], list[str]]:
    """`manifests.apply_steps` of each object, read against `facts.objects`; a PlanError on `key`
    where the dry run was refused or met another field manager's fields (never forced). A webhook
    not answering yet (MetalLB just installed, its controller not available) is no refusal: the
    apply waits for it, and the diff is unknown."""
    steps, warnings, errors = [], [], []
    for obj in objects:
        name, known = object_id(obj), facts.objects.get(object_id(obj), LiveObject())
        if WEBHOOK_NOT_READY in known.error:
            known = LiveObject(known.live)
        if known.error:
            errors.append((key, f"{name}: {known.error}"))
        elif known.conflicts:
            errors.append((key, f"{name}: fields owned by another field manager, which this wizard never forces: "
                                f"{owned_elsewhere(known.conflicts)}; change them there, or delete the object"))
        else:
            made = apply_steps(obj, known, force=False, webhook_grace=webhook_grace)
            steps.append(made.apply)
            warnings += made.warnings
    PlanError.check(errors)
    return steps, warnings


def _k3s_config(server: K3sServer) -> dict[str, Any] | None:
    """A server's config file as a mapping ({} when there is none); None when it is not one."""
    try:
        config = yaml.safe_load(server.config or "") or {}
    except yaml.YAMLError:
        return None
    return config if isinstance(config, dict) else None


def _names(value: Any) -> list[str]:
    """k3s's `disable`: a list, or a string of comma-separated names."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [name for name in (str(item).strip() for item in items) if name]


def _servicelb_disabled(server: K3sServer) -> bool:
    """Whether k3s starts with ServiceLB off: `disable` in its config file, or a --disable flag of
    the install (in its unit's ExecStart)."""
    flags = re.findall(r"--disable(?:=|\s+)['\"]?([\w,-]+)", server.unit.replace("\\\n", " "))
    named = _names((_k3s_config(server) or {}).get("disable")) + [n for flag in flags for n in _names(flag)]
    return "servicelb" in named


def _servicelb_steps(answers: MetallbAnswers, facts: MetallbFacts) -> list[Step]:
    """On k3s: `disable: [servicelb]` in each server's config file, then a restart of k3s; no-ops
    when it is off (a server configured so but still running its svclb DaemonSets is restarted)."""
    servers = facts.k3s_servers
    running = bool(facts.svclb) or any(not _servicelb_disabled(server) for server in servers)
    if running and answers.servicelb == "refuse":
        found = f" (its DaemonSets: {', '.join(facts.svclb)})" if facts.svclb else ""
        raise PlanError("--servicelb", f"k3s runs its ServiceLB (Klipper){found}, which fights MetalLB over every "
                                       "LoadBalancer Service: answer disable, or add `disable: [servicelb]` to "
                                       f"{K3S_CONFIG} on the servers and restart k3s")
    if facts.svclb and not servers:
        raise PlanError("--servicelb", f"k3s runs its ServiceLB (its DaemonSets: {', '.join(facts.svclb)}), and the "
                                       "config has no server node to disable it on: add the k3s server to [[nodes]] "
                                       'with role = "server"')
    steps = []
    for server in servers:
        description = f"Disable k3s's ServiceLB on {server.name} ({K3S_CONFIG})"
        if _servicelb_disabled(server):
            steps.append(Step(Target.SSH, server.name, description, f"grep -w servicelb {K3S_CONFIG}",
                              Run(f"grep -w servicelb {K3S_CONFIG}"), noop_reason="k3s starts with ServiceLB disabled"))
        else:
            command = _config_write(server)
            steps.append(Step(Target.SSH, server.name, description, sudo_rendering(command), Run(command, sudo=True)))
        steps.append(Step(Target.SSH, server.name, f"Restart k3s on {server.name}, without ServiceLB",
                          "sudo systemctl restart k3s", Run("systemctl restart k3s", sudo=True),
                          noop_reason="" if running else "ServiceLB is not running"))
    return steps


def _config_write(server: K3sServer) -> str:
    """The command that puts servicelb in `disable` and keeps every other key: appended when the
    file names nothing to disable (its comments stay), else the file written again, merged."""
    config = _k3s_config(server)
    if config is None:
        raise PlanError("--servicelb", f"{server.name}: {K3S_CONFIG} is not a YAML mapping of k3s flags; fix it, or "
                                       "disable ServiceLB there by hand")
    if "disable" not in config:
        text = ("\n" if server.config and not server.config.endswith("\n") else "") + "disable:\n  - servicelb\n"
        redirect = ">>"
    else:
        text = yaml.safe_dump({**config, "disable": [*_names(config["disable"]), "servicelb"]}, sort_keys=False)
        redirect = ">"
    lines = " ".join(sh_quote(line) for line in text.splitlines())
    return f'mkdir -p /etc/rancher/k3s && printf "%s\\n" {lines} {redirect} {K3S_CONFIG}'


def _strict_arp_steps(facts: MetallbFacts, kubectl: str) -> list[Step]:
    """kube-proxy in IPVS mode answers ARP for every Service address unless strictARP is on
    (MetalLB's installation page): its ConfigMap changed, then its pods restarted to read it."""
    if facts.kube_proxy is None:
        return []
    try:
        config = yaml.safe_load(facts.kube_proxy) or {}
    except yaml.YAMLError:
        return []
    if not isinstance(config, dict) or config.get("mode") != "ipvs":
        return []
    on = bool((config.get("ipvs") or {}).get("strictARP"))
    if "strictARP: false" in facts.kube_proxy:
        changed = facts.kube_proxy.replace("strictARP: false", "strictARP: true")
    else:
        changed = yaml.safe_dump({**config, "ipvs": {**(config.get("ipvs") or {}), "strictARP": True}}, sort_keys=False)
    patch = object_text({"data": {"config.conf": changed}})
    restart = object_text({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: facts.now}}}}})
    reason = "kube-proxy (IPVS) has strictARP: true" if on else ""
    return [
        Step(Target.KUBE, "", "Turn on strictARP for kube-proxy in IPVS mode (kube-system/kube-proxy ConfigMap)",
             f"{kubectl} -n kube-system patch configmap {KUBE_PROXY} --type merge -p {shlex.quote(patch)}",
             PatchObject("ConfigMap", "kube-system", KUBE_PROXY, patch), noop_reason=reason),
        Step(Target.KUBE, "", "Restart kube-proxy to read it",
             f"{kubectl} -n kube-system rollout restart daemonset {KUBE_PROXY}",
             PatchObject("DaemonSet", "kube-system", KUBE_PROXY, restart, manager=ROLLOUT_MANAGER), noop_reason=reason),
    ]


def _install_steps(answers: MetallbAnswers, facts: MetallbFacts, kubectl: str,
                   namespace: str) -> tuple[list[Step], list[str]]:
    """Each document of the manifest (namespace and CRDs first), then the waits for the controller
    and the webhook's endpoints; one no-op when MetalLB is installed."""
    if _installed(facts):
        controller_namespace, controller = facts.controller.split("/", 1)
        if facts.controller_available:
            return [Step(Target.KUBE, "", "Install MetalLB", f"{kubectl} apply --server-side -f {answers.manifest}",
                         WaitRollout(controller_namespace, controller),
                         noop_reason=f"MetalLB is installed: its controller {facts.controller} is available")], []
    else:
        if not facts.manifest:
            raise PlanError("cluster.metallb_manifest", f"{answers.manifest or 'the manifest'} holds no documents")
        controller_namespace, controller = namespace, CONTROLLER
    documents = _install_documents(facts)
    steps, warnings = _object_steps(documents, facts, "cluster.metallb_manifest")
    steps = [replace(step, description=f"Install MetalLB: {object_id(doc)}") for step, doc in zip(steps, documents)]
    webhook = next((doc["metadata"]["name"] for doc in documents if doc.get("kind") == "Service"
                    and "webhook" in doc["metadata"]["name"]), WEBHOOK_SERVICE)
    return [*steps,
            Step(Target.KUBE, "", f"Wait for MetalLB's controller ({controller_namespace}/{controller})",
                 f"{kubectl} -n {controller_namespace} rollout status deployment/{controller}",
                 WaitRollout(controller_namespace, controller)),
            Step(Target.KUBE, "", f"Wait for the endpoints of MetalLB's webhook ({controller_namespace}/{webhook})",
                 f"{kubectl} -n {controller_namespace} wait --for=jsonpath='{{.subsets[*].addresses[*].ip}}' "
                 f"endpoints/{webhook} --timeout=300s",
                 WaitEndpoints(controller_namespace, webhook))], warnings


def _pool_steps(answers: MetallbAnswers, facts: MetallbFacts, namespace: str) -> tuple[list[Step], list[str]]:
    """The IPAddressPool and the L2Advertisement that names it, applied with the webhook's grace."""
    objects = _pool_objects(answers, namespace)
    steps, warnings = _object_steps(list(objects), facts, "--pool", WEBHOOK_GRACE)
    whats = (f"hands out {pool_entry(answers.range)}", f"announces pool {answers.pool}")
    steps = [replace(step, description=f"{_verb(step, facts.objects.get(object_id(obj)))} {object_id(obj)}: {what}")
             for step, obj, what in zip(steps, objects, whats)]
    return steps, warnings


def _verb(step: Step, known: LiveObject | None) -> str:
    return "Create" if known is None or known.live is None else "Apply" if step.is_noop else "Update"
