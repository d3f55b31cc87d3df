"""Deploy: an app from the form, or a manifest file, applied server-side. The facts are the kinds
the API serves, each object as it is, and the server's dry run of our intent (facts/objects.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Config
from ..facts.objects import deploy_facts
from ..plans import PlanError, Staged
from ..plans.deploy import CONFLICT_CHOICES, EXPOSE_MODES, DeployAnswers, check_answers, deploy_plan
from .wizard import Note, ask

if TYPE_CHECKING:
    from ..executors import Executors

MANIFEST_BYTES = 4 << 20  # a manifest bigger than this is not one written by hand


@dataclass(frozen=True)
class DeployRequest:
    name: str = ask("name", "the app's name: its Deployment, Service and Ingress (a-z, 0-9, -)", required=True,
                    hint="web")
    image: str = ask("image", "the container image, e.g. nginx:1.27 (not with --manifest)", hint="nginx:1.27")
    port: str = ask("container port", "the port the container listens on (default: 80)", initial=lambda config: "80")
    expose: str = ask("expose", "how the app is reached (default: clusterip)", choices=EXPOSE_MODES,
                      initial=lambda config: "clusterip")
    node_port: str = ask("node port", "a fixed node port, 30000-32767 (default: the cluster picks one)",
                         only_for=("expose", "nodeport"), hint="31681")
    host: str = ask("host", "the Ingress host name, e.g. web.example.org", only_for=("expose", "ingress"),
                    hint="web.example.org")
    path: str = ask("path", "the Ingress path (default: /)", only_for=("expose", "ingress"), hint="/")
    namespace: str = ask("namespace", "created if missing (default: default)", initial=lambda config: "default")
    replicas: str = ask("replicas", "how many pods (default: 1)", initial=lambda config: "1")
    env: tuple[str, ...] = ask("env", "an environment variable NAME=value (repeatable)", metavar="NAME=VALUE",
                               many=True, separator="shell", hint="NAME=value NAME2=\"two words\"")
    requests: str = ask("requests", "resource requests, e.g. cpu=100m,memory=64Mi", hint="cpu=100m,memory=64Mi")
    limits: str = ask("limits", "resource limits, e.g. cpu=500m,memory=256Mi", hint="cpu=500m,memory=256Mi")
    ingress_class: str = ask("ingress class", "default: traefik on k3s, nginx on kubeadm",
                             only_for=("expose", "ingress"), hint="traefik")
    tls_secret: str = ask("TLS secret", "a Secret with the certificate, for HTTPS at the Ingress",
                          only_for=("expose", "ingress"))
    manifest: str = ask("manifest file", "apply this manifest (multi-document YAML) instead of the form's app",
                        metavar="FILE", hint="a file of any kinds the API serves, instead of the fields above")
    on_conflict: str = ask("on conflict", "when another field manager owns a field: force (take it) or keep-live "
                           "(keep its value); default: stop and say which", choices=CONFLICT_CHOICES,
                           hint="stop and say which field")


def read_manifest(path: str) -> str:
    """The manifest's text; a PlanError naming `manifest` when it cannot be read."""
    try:
        with Path(path).expanduser().open("rb") as file:
            data = file.read(MANIFEST_BYTES + 1)
    except OSError as error:
        raise PlanError("manifest", f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > MANIFEST_BYTES:
        raise PlanError("manifest", f"{path} is larger than {MANIFEST_BYTES >> 20} MiB")
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise PlanError("manifest", f"{path} is not UTF-8 text") from None


async def plan_deploy(config: Config, request: DeployRequest, executors: Executors, note: Note) -> Staged:
    """The deploy plan; PlanError names every bad answer before the cluster is contacted."""
    manifest = await asyncio.to_thread(read_manifest, request.manifest) if request.manifest else ""
    answers = DeployAnswers(
        name=request.name, image=request.image, namespace=request.namespace, replicas=request.replicas,
        port=request.port, env=request.env, requests=request.requests, limits=request.limits,
        expose=request.expose or "clusterip", node_port=request.node_port, host=request.host, path=request.path,
        ingress_class=request.ingress_class, tls_secret=request.tls_secret, on_conflict=request.on_conflict,
        distribution=config.cluster.distribution, manifest=manifest, manifest_source=request.manifest)
    check_answers(answers)
    return Staged((deploy_plan(answers, await deploy_facts(config, answers)),))


REQUEST, FLOW = DeployRequest, plan_deploy
