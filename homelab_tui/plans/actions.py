"""What the engine does for a step, grouped by the target that does it: the SSH actions run on a
node, the Kubernetes actions against the API. Each action also says how a person would do it by
hand, in the script `export.py` writes for its target (`.sh` lines, a `.yaml` document), so a new
action brings its own export and nothing else has to learn about it. Pure: no I/O here."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any, ClassVar

from . import SECRET_REF, Target, secret_variable, shown


def comment(text: str) -> str:
    """`text` as one script comment line."""
    return "# " + " ".join(text.splitlines())


# -- SSH: on a node --------------------------------------------------------------------------


def sh_word(command: str) -> str:
    """`command` as one word for the local shell, its secret references left as "${NAME}" for the
    local shell to expand (the CaptureSecret lines set them), the rest quoted literally."""
    words = []
    for i, part in enumerate(SECRET_REF.split(command)):  # literal, name, literal, ..., literal
        if i % 2:
            words.append(f'"${{{secret_variable(part)}}}"')
        elif part:
            words.append(shlex.quote(part))
    return "".join(words) or "''"


def as_root(command: str) -> str:
    """A command as SshSession runs it with sudo."""
    return f"sudo sh -c {shlex.quote(command)}"


class SshAction:
    """An action on the step's SSH host. `sh` is what a script does instead, given the ssh
    arguments that reach the host (`user@host -p port`)."""

    target: ClassVar[Target] = Target.SSH

    def sh(self, destination: str) -> list[str]:
        raise NotImplementedError


@dataclass(frozen=True)
class Run(SshAction):
    """A shell command on the step's SSH host; `sudo` runs it as root."""

    command: str
    sudo: bool = False

    def sh(self, destination: str) -> list[str]:
        return [f"ssh {destination} {sh_word(as_root(self.command) if self.sudo else self.command)}"]


@dataclass(frozen=True)
class CaptureSecret(SshAction):
    """Run a command on the host and keep its (stripped) output as secret `name`."""

    command: str
    name: str
    sudo: bool = True

    def sh(self, destination: str) -> list[str]:
        # A secret lands inside the single quotes of `sh -c '...'` on the remote side, so the
        # script refuses a value with a single quote in it.
        variable = secret_variable(self.name)
        read = f"ssh {destination} {sh_word(as_root(self.command) if self.sudo else self.command)}"
        return [f"{variable}=$({read})",
                f"case ${{{variable}}} in *\\'*) echo '{variable} has a single quote; pass it on by hand' >&2; "
                "exit 1;; esac"]


@dataclass(frozen=True)
class Upload(SshAction):
    """Copy a local file to the host over SFTP."""

    local_path: str
    remote_path: str
    mode: int = 0o755

    def sh(self, destination: str) -> list[str]:
        # Through ssh rather than scp: the destination may carry ssh options (`-p 2222`) that scp
        # spells differently (`-P`).
        remote = shlex.quote(self.remote_path)
        return [f"ssh {destination} {shlex.quote(f'cat > {remote} && chmod {self.mode:o} {remote}')}"
                f" < {shlex.quote(self.local_path)}"]


@dataclass(frozen=True)
class Reboot(SshAction):
    """Reboot the host and wait until SSH answers again."""

    timeout: float = 300.0

    def sh(self, destination: str) -> list[str]:
        return ["# ssh fails as the host goes down; then wait until it answers again",
                f"ssh {destination} sudo reboot || true",
                "sleep 10",
                f"until ssh {destination} -o ConnectTimeout=5 true 2>/dev/null; do sleep 5; done"]


# The names of the admin kubeconfig's one cluster, user and context (k3s: "default"; kubeadm:
# "kubernetes", "kubernetes-admin", ...) in the layout both write, and its server's host.
_KUBECONFIG_NAME_LINE = r"^( *(- )?(name|cluster|user|current-context): )[^ ].*$"
_KUBECONFIG_SERVER_HOST = r"^( *server: https://)[^:/]+"


@dataclass(frozen=True)
class FetchKubeconfig(SshAction):
    """Read the cluster's admin kubeconfig from the host (with sudo), point its server at
    `server_host` (the port stays; k3s and kubeadm write 127.0.0.1), name its cluster, user and
    context `name`, and merge it into the local `kubeconfig`."""

    remote_path: str
    server_host: str
    name: str
    kubeconfig: str

    def sh(self, destination: str) -> list[str]:
        """Into a file of its own beside the script, renamed and pointed at the node as the engine
        does; merging it into the local kubeconfig stays a choice made by hand."""
        local = f"{self.name}.kubeconfig"
        fetch = as_root(f"cat {shlex.quote(self.remote_path)}")
        rename = f"s/{_KUBECONFIG_NAME_LINE}/\\1{self.name}/"
        point = f"s#{_KUBECONFIG_SERVER_HOST}#\\1{self.server_host}#"
        note = (f"{local}: context {self.name}; use it with KUBECONFIG={local}, "
                f"or merge it into {self.kubeconfig} by hand")
        return [f"(umask 077 && ssh {destination} {sh_word(fetch)}"
                f" | sed -E -e {shlex.quote(rename)} -e {shlex.quote(point)} > {shlex.quote(local)})",
                f"echo {shlex.quote(note)} >&2"]


# -- Kubernetes: against the API --------------------------------------------------------------


class KubeAction:
    """An action against the cluster's API. `manifest` is its document in an exported .yaml,
    given the step's rendering: the manifest itself, or a comment for what is not one."""

    target: ClassVar[Target] = Target.KUBE

    def manifest(self, rendering: str) -> str:
        return shown(rendering)


@dataclass(frozen=True)
class WaitNodeReady(KubeAction):
    """Wait until the Kubernetes node `node` is Ready."""

    node: str
    timeout: float = 300.0

    def manifest(self, rendering: str) -> str:
        return comment(shown(rendering))  # a kubectl command, not a manifest: the file still applies



def object_text(obj: dict[str, Any]) -> str:
    """An object as an action holds it: canonical JSON, so equal objects make equal actions."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class ObjectAction(KubeAction):
    """An action that writes one whole object, held as `document` (canonical JSON); its rendering
    is the object's manifest."""

    document: str

    @property
    def obj(self) -> dict[str, Any]:
        return json.loads(self.document)

    def manifest(self, rendering: str) -> str:
        return rendering


# How the API says a webhook just installed does not answer yet (metallb#1540): retried, not fatal.
WEBHOOK_NOT_READY = "failed calling webhook"


@dataclass(frozen=True)
class ApplyObject(ObjectAction):
    """Server-side apply of the object under our field manager, with strict field validation, as
    `kubectl apply --server-side` does. `force` takes fields another manager owns (only after the
    user said so). `webhook_grace`: for how many seconds a "failed calling webhook" refusal is
    retried (a webhook that has just been installed refuses until its endpoints are up)."""

    force: bool = False
    webhook_grace: float = 0.0


@dataclass(frozen=True)
class ReplaceObject(ObjectAction):
    """Put an object back as it was (its previous state without server fields) by replacing it:
    the undo of an apply that changed an existing object."""


@dataclass(frozen=True)
class PatchObject(KubeAction):
    """A merge patch (`patch`, canonical JSON) of one object or its `subresource`, under
    `manager`: the non-apply write of a pane action (scale, restart, cordon), which so never takes
    the fields of a wizard's applied intent."""

    kind: str
    namespace: str  # "" for a cluster-wide kind
    name: str
    patch: str
    manager: str = "homelab-tui"
    subresource: str = ""

    def manifest(self, rendering: str) -> str:
        return comment(shown(rendering))


@dataclass(frozen=True)
class WaitRollout(KubeAction):
    """Wait until a Deployment has rolled out, as `kubectl rollout status` does; fail as soon
    as a pod of the new revision cannot pull its image or crash-loops, or progress stalls."""

    namespace: str
    name: str
    timeout: float = 600.0

    def manifest(self, rendering: str) -> str:
        return comment(shown(rendering))


@dataclass(frozen=True)
class WaitEndpoints(KubeAction):
    """Wait until a Service has a ready endpoint (in its EndpointSlices, or its Endpoints): a
    webhook behind it answers from then on."""

    namespace: str
    name: str
    timeout: float = 300.0

    def manifest(self, rendering: str) -> str:
        return comment(shown(rendering))


@dataclass(frozen=True)
class WaitLoadBalancer(KubeAction):
    """Wait until a LoadBalancer Service has `address` in its status (MetalLB assigned it)."""

    namespace: str
    name: str
    address: str
    timeout: float = 120.0

    def manifest(self, rendering: str) -> str:
        return comment(shown(rendering))


@dataclass(frozen=True)
class DeleteObject(KubeAction):
    """Delete one object, as `kubectl delete` does (dependents in the background)."""

    kind: str
    namespace: str  # "" for a cluster-wide kind
    name: str
    uid: str = ""  # the object planned for: one made again under its name meanwhile is not deleted
    grace_period: int | None = None  # seconds; 0 kills a pod at once; None: the object's own
    api_version: str = ""  # for a kind the client does not know by name (a CRD's)

    def manifest(self, rendering: str) -> str:
        return comment(shown(rendering))  # a deletion has no manifest; the comment says what to run


@dataclass(frozen=True)
class EvictPod(KubeAction):
    """Evict one pod through the Eviction API, as `kubectl drain` does: a PodDisruptionBudget that
    refuses it for now (429) is asked again every few seconds, for up to `timeout` seconds."""

    namespace: str
    name: str
    timeout: float = 120.0

    def manifest(self, rendering: str) -> str:
        return comment(shown(rendering))


@dataclass(frozen=True)
class LabelNode(KubeAction):
    """Set labels on a node (others it has are kept), as `kubectl label --overwrite` does."""

    node: str
    labels: tuple[tuple[str, str], ...]

    def manifest(self, rendering: str) -> str:
        return comment(shown(rendering))


# -- RouterOS: against the router's API ----------------------------------------------------------
# A rule is named by its marker comment (plans/routeros.py), never by a cached .id; `before` is
# the marker of the rule ours go before, or the `.id` (`*5`) of a rule of the user's.


class RouterAction:
    """An action against the router's API; the step's rendering is its console line (`.rsc`)."""

    target: ClassVar[Target] = Target.ROUTER


@dataclass(frozen=True)
class RouterAdd(RouterAction):
    """Add an item (`fields`, its marker comment among them) to `menu`, before `before` if given."""

    menu: str
    fields: tuple[tuple[str, str], ...]
    before: str = ""

    @property
    def comment(self) -> str:
        return dict(self.fields).get("comment", "")


@dataclass(frozen=True)
class RouterSet(RouterAction):
    """Set `fields` on the one item of `menu` whose comment is `comment`."""

    menu: str
    comment: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RouterRemove(RouterAction):
    """Remove the item of `menu` whose comment is `comment` (gone already: nothing to do)."""

    menu: str
    comment: str


@dataclass(frozen=True)
class RouterOrder(RouterAction):
    """Re-read `menu` and move the items with `comments` so that they stand in this order, before
    `before` (a marker or a `*ID`; "" : where the first of them stands)."""

    menu: str
    comments: tuple[str, ...]
    before: str = ""


@dataclass(frozen=True)
class CloudDdns(RouterAction):
    """Turn the router's DDNS (/ip cloud) on or off; on waits, bounded, until it has a dns-name
    and a public address."""

    enabled: bool
    timeout: float = 60.0


# -- DNS: Cloudflare's API ----------------------------------------------------------------------


class DnsAction:
    """An action against the DNS provider's API (Cloudflare); the rendering says it in words."""

    target: ClassVar[Target] = Target.DNS


@dataclass(frozen=True)
class DnsPut(DnsAction):
    """Create the record, or update the one of this name and `comment` (ours). A CNAME with no
    `content` points at the router's DDNS name, read from /ip/cloud when the record is made."""

    zone: str
    name: str
    type: str
    content: str
    proxied: bool
    comment: str
    ttl: int = 1  # automatic (and what a proxied record must have)


@dataclass(frozen=True)
class DnsDelete(DnsAction):
    """Delete the record of this name whose comment is `comment`, or, with `record`, the one
    record (its JSON) of another owner that the user agreed to replace."""

    zone: str
    name: str
    comment: str = ""
    record: str = ""


@dataclass(frozen=True)
class DnsRestore(DnsAction):
    """Create again a record (its JSON) that a failed apply had replaced."""

    zone: str
    record: str


# -- This machine: local files -------------------------------------------------------------------


class LocalAction:
    """An action on this machine (the local kubeconfig); the rendering is the command by hand."""

    target: ClassVar[Target] = Target.LOCAL


@dataclass(frozen=True)
class RemoveKubeconfigEntries(LocalAction):
    """Remove the cluster, user and context named `name` from the local `kubeconfig` (atomically,
    0600, keeping a .bak), and unset the current context when it was `name`."""

    kubeconfig: str
    name: str


Action = (Run | CaptureSecret | Upload | Reboot | FetchKubeconfig | WaitNodeReady | DeleteObject | LabelNode
          | ApplyObject | ReplaceObject | PatchObject | WaitRollout | WaitLoadBalancer
          | RouterAdd | RouterSet | RouterRemove | RouterOrder | CloudDdns | DnsPut | DnsDelete | DnsRestore | WaitEndpoints | EvictPod
          | RemoveKubeconfigEntries)
