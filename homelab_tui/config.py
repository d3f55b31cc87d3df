"""The config file: schema, strict loading with precise errors, secrets, and atomic saving.

The schema is a set of dataclasses; each field's `metadata` says how to check a raw TOML value.
Loading collects every problem at once, each naming the key path, the line and what was expected.
Secrets never live in the file: they come from an environment variable or a command.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
import shlex
import signal
import stat
import subprocess
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import platformdirs
import tomli_w

from .files import atomic_write

APP_NAME = "homelab-tui"
CONFIG_ENV = "HOMELAB_TUI_CONFIG"

# Keys that would hold a secret in clear text, and where the secret should come from instead.
_LITERAL_SECRETS = {
    "router.password": "router.password_env or router.password_command",
    "dns.cloudflare.token": "dns.cloudflare.token_env or dns.cloudflare.token_command",
    "cluster.token": "an environment variable (the k3s token is read from the server, never stored)",
}


# --- errors --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigIssue:
    path: str  # dotted key path, e.g. "nodes[1].address"
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return printable(f"{self.path}{where}: {self.message}")


def printable(text: str) -> str:
    """`text` with every control character shown as an escape, so none reaches the terminal raw."""
    if control_character(text) is None:
        return text
    return "".join(repr(char)[1:-1] if control_character(char) else char for char in text)


class ConfigError(Exception):
    """The config is invalid. `issues` lists every problem found."""

    def __init__(self, source: str, issues: list[ConfigIssue]):
        self.source = source
        self.issues = issues
        super().__init__(self.render())

    def render(self) -> str:
        if len(self.issues) == 1:  # one problem, one line
            issue = self.issues[0]
            what = issue.message if issue.path == FILE_ISSUE else str(issue)
            return printable(f"config {self.source}: {what}")
        lines = [f"invalid config {self.source}:"]
        lines += [f"  {issue}" for issue in self.issues]
        return "\n".join(printable(line) for line in lines)  # a file name may hold an escape too


FILE_ISSUE = "(file)"  # the issue is the file itself: missing, unreadable, not a regular file
NEXT_STEP = ("run `homelab-tui init` to write one, or `homelab-tui --demo` (or `make demo`) to look around "
             "the simulated lab first; or pass --config PATH")


# --- value checkers: raw TOML value -> typed value, or raise ValueError("expected ...") -------


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_describe(value)}")
    if bad := control_character(value):
        # Never echo the string: it would reach the terminal raw, escape sequences included.
        raise ValueError(f"contains a control character (U+{ord(bad):04X}); expected printable text")
    return value


def control_character(text: str) -> str | None:
    """The first character of `text` a terminal would act on instead of showing: C0/C1 controls
    (ESC starts an escape sequence), DEL, and the bidirectional overrides."""
    for char in text:
        if unicodedata.category(char) == "Cc" or "\u202a" <= char <= "\u202e" or "\u2066" <= char <= "\u2069":
            return char
    return None


def _nonempty_string(value: Any) -> str:
    if not _string(value).strip():
        raise ValueError("expected a non-empty string")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_describe(value)}")
    return value


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"expected a port number 1-65535, got {_describe(value)}")
    return value


def seconds_between(low: float, high: float) -> Callable[[Any], float]:
    """A finite number of seconds from `low` to `high` (nan, inf and 1e-9 are not durations)."""

    def check(value: Any) -> float:
        if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
                or not low <= value <= high):
            raise ValueError(f"expected a number of seconds from {low:g} to {high:g}, got {_describe(value)}")
        return float(value)

    return check


def _ipv4(value: Any) -> str:
    try:
        return str(ipaddress.IPv4Address(_string(value)))
    except ipaddress.AddressValueError:
        raise ValueError(f"expected an IPv4 address like 192.168.40.102, got {value!r}") from None


def _host(value: Any) -> str:
    text = _nonempty_string(value)
    if not re.fullmatch(r"[A-Za-z0-9.:\-\[\]_]+", text):
        raise ValueError(f"expected a hostname or IP address, got {value!r}")
    return text


def _url_or_path(value: Any) -> str:
    """A URL (http or https, with a host) or a local file's path: where a manifest comes from."""
    text = _nonempty_string(value).strip()
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme not in ("http", "https") or not re.match(r"[A-Za-z0-9.\-\[\]:@_]+(/|$)", rest):
            raise ValueError(f"expected an http(s) URL or a local file's path, got {text!r}")
    return text


def _cidr(value: Any) -> str:
    try:
        return str(ipaddress.IPv4Network(_string(value), strict=True))
    except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError):
        raise ValueError(f"expected an IPv4 CIDR like 10.42.0.0/16, got {value!r}") from None


def _domain(value: Any) -> str:
    text = _nonempty_string(value).rstrip(".").lower()
    label = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
    if not re.fullmatch(rf"{label}(\.{label})+", text):
        raise ValueError(f"expected a domain name like example.org, got {value!r}")
    return text


_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")


def _name(value: Any) -> str:
    """A cluster or node name: it becomes a kubeconfig entry, a --node argument and a file name."""
    if not _NAME.fullmatch(_string(value)):
        raise ValueError(f"expected a name of letters, digits, '.', '-' and '_' (at most 63, starting and "
                         f"ending with a letter or digit), got {value!r}")
    return value


def _cluster_name(value: Any) -> str:
    if _name(value) == "default":
        raise ValueError('expected a name other than "default" (kubeconfigs already hold a "default" '
                         "cluster, user and context, which a merge would replace)")
    return value


_LABEL_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?"
_LABEL_PREFIX = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"


def _labels(value: Any) -> dict[str, str]:
    """Kubernetes labels: keys `[prefix/]name` (prefix a DNS subdomain of at most 253 characters,
    name at most 63 of [A-Za-z0-9._-], alphanumeric at both ends); values empty or like a name."""
    labels = _string_table(value)
    for key, label in labels.items():
        prefix, _, name = key.rpartition("/")
        if not re.fullmatch(_LABEL_NAME, name) or ("/" in key and not (
                len(prefix) <= 253 and re.fullmatch(_LABEL_PREFIX, prefix))):
            raise ValueError(f"label key {key!r}: expected [prefix/]name as Kubernetes allows (name: at most 63 "
                             "letters, digits, '-', '_', '.', alphanumeric at both ends; prefix: a DNS subdomain)")
        if label and not re.fullmatch(_LABEL_NAME, label):
            raise ValueError(f"label {key!r}: value {label!r} is not a valid Kubernetes label value (at most 63 "
                             "letters, digits, '-', '_', '.', alphanumeric at both ends, or empty)")
    return labels


KEY_MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
_KEY = re.compile(rf"(?:(?:{'|'.join(KEY_MODIFIERS)})\+)*(?:[a-z][a-z0-9_]*|[!-~])")
BINDING_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def keymap_keys(keys: str) -> list[str]:
    """The keys of one keymap entry, `"q"` or `"q,ctrl+x"`; ValueError if one is not a key's name."""
    parts = [part.strip() for part in keys.split(",")]
    for part in parts:
        if not _KEY.fullmatch(part):
            raise ValueError(f"{part!r} is not a key: expected a character or a key name such as f5, "
                             f"slash, escape, optionally after modifiers ({'+, '.join(KEY_MODIFIERS)}+), "
                             "several separated by commas")
    return parts


def _keymap(value: Any) -> dict[str, str]:
    """`[ui.keymap]`: binding id -> key(s). The ids and the key names are checked against the app's
    by the CLI before the app starts (this module does not import textual)."""
    keymap = _string_table(value)
    for binding, keys in keymap.items():
        if not BINDING_ID.fullmatch(binding):
            raise ValueError(f"{binding!r} is not a binding id (letters, digits, '_')")
        try:
            keymap_keys(keys)
        except ValueError as exc:
            raise ValueError(f"{binding}: {exc}") from None
    return keymap


def _env_name(value: Any) -> str:
    # Never echo the value: a secret pasted here by mistake must not reach the screen.
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", _string(value)):
        raise ValueError("expected the name of an environment variable (letters, digits, _), not its value")
    return value


def _one_of(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            expected = " or ".join(f'"{c}"' for c in choices)
            raise ValueError(f"expected {expected}, got {_describe(value)}")
        return value

    return check


def _list_of(item: Callable[[Any], Any]) -> Callable[[Any], list]:
    def check(value: Any) -> list:
        if not isinstance(value, list):
            raise ValueError(f"expected a list, got {_describe(value)}")
        return [item(v) for v in value]

    return check


def _string_table(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"expected a table of strings, got {_describe(value)}")
    for key, item in value.items():
        _string(key)
        _string(item)
    return dict(value)


def _theme_name(value: Any) -> str:
    """A theme's name; whether such a theme exists is checked by the CLI (themes are the UI's)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._ -]*", _string(value)):
        raise ValueError(f"expected the name of a theme such as homelab-dark, got {value!r}")
    return value


def _describe(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
    return f"{kind} ({value!r})" if not isinstance(value, (list, dict)) else kind


def _check(checker: Callable[[Any], Any], doc: str = "") -> dict:
    return {"check": checker, "doc": doc}


# --- schema --------------------------------------------------------------------------------


# MetalLB's native manifest, of a pinned release (the MetalLB wizard installs it when it is missing)
METALLB_MANIFEST_URL = "https://raw.githubusercontent.com/metallb/metallb/v0.14.9/config/manifests/metallb-native.yaml"


@dataclass
class ClusterConfig:
    name: str = field(default="homelab", metadata=_check(_cluster_name))
    distribution: str = field(default="k3s", metadata=_check(_one_of("k3s", "kubeadm")))
    kubeconfig: str | None = field(default=None, metadata=_check(_string))
    context: str | None = field(default=None, metadata=_check(_string))
    pod_cidr: str = field(default="10.42.0.0/16", metadata=_check(_cidr))
    service_cidr: str = field(default="10.43.0.0/16", metadata=_check(_cidr))
    install_script: str = field(default="https://get.k3s.io", metadata=_check(_nonempty_string))
    metallb_manifest: str = field(default=METALLB_MANIFEST_URL, metadata=_check(_url_or_path))

    @property
    def kube_context(self) -> str:
        """The kubeconfig context of this cluster, for the panes, `check` and the wizards alike:
        `context` when set, else the one bootstrap merges, named after the cluster. Never the
        kubeconfig's current context, which may be another cluster."""
        return self.context or self.name


@dataclass
class SshConfig:
    user: str | None = field(default=None, metadata=_check(_nonempty_string))
    identity_file: str | None = field(default=None, metadata=_check(_string))
    known_hosts: str = field(default="~/.ssh/known_hosts", metadata=_check(_nonempty_string))
    port: int = field(default=22, metadata=_check(_port))
    use_agent: bool = field(default=True, metadata=_check(_boolean))
    config_file: str | None = field(default="~/.ssh/config", metadata=_check(_string))
    connect_timeout: float = field(default=10.0, metadata=_check(seconds_between(0.5, 300)))


@dataclass
class NodeConfig:
    name: str = field(metadata=_check(_name))
    address: str = field(metadata=_check(_ipv4))
    role: str = field(default="agent", metadata=_check(_one_of("server", "agent")))
    hostname: str | None = field(default=None, metadata=_check(_domain))
    ssh_host: str | None = field(default=None, metadata=_check(_host))
    ssh_port: int | None = field(default=None, metadata=_check(_port))
    labels: dict[str, str] = field(default_factory=dict, metadata=_check(_labels))

    @property
    def fqdn(self) -> str:
        return self.hostname or self.name


@dataclass
class RouterConfig:
    host: str = field(metadata=_check(_host))
    port: int = field(default=8728, metadata=_check(_port))
    tls: bool = field(default=False, metadata=_check(_boolean))
    user: str = field(default="admin", metadata=_check(_nonempty_string))
    password_env: str | None = field(default=None, metadata=_check(_env_name))
    password_command: str | None = field(default=None, metadata=_check(_nonempty_string))
    wan_interface: str = field(default="all-ppp", metadata=_check(_nonempty_string))
    # A PCC target NotReady this long is left out of the rules (plans/repair.py); a blip is not.
    rebalance_after_seconds: float = field(default=60.0, metadata=_check(seconds_between(0, 86400)))
    auto_rebalance: bool = field(default=False, metadata=_check(_boolean))  # offer the rebalance unasked


@dataclass
class CloudflareConfig:
    zone: str = field(metadata=_check(_domain))
    token_env: str | None = field(default="CLOUDFLARE_API_TOKEN", metadata=_check(_env_name))
    token_command: str | None = field(default=None, metadata=_check(_nonempty_string))
    proxied: bool = field(default=True, metadata=_check(_boolean))
    api_url: str = field(default="https://api.cloudflare.com/client/v4", metadata=_check(_nonempty_string))


@dataclass
class DnsConfig:
    domain: str = field(metadata=_check(_domain))
    nameservers: list[str] = field(default_factory=list, metadata=_check(_list_of(_ipv4)))
    port: int = field(default=53, metadata=_check(_port))
    timeout: float = field(default=3.0, metadata=_check(seconds_between(0.1, 60)))
    ddns: str = field(default="routeros-cloud", metadata=_check(_one_of("routeros-cloud", "none")))
    cloudflare: CloudflareConfig | None = None


@dataclass
class UiConfig:
    theme: str = field(default="homelab-dark", metadata=_check(_theme_name))
    refresh_seconds: float = field(default=5.0, metadata=_check(seconds_between(0.5, 3600)))
    keymap: dict[str, str] = field(default_factory=dict, metadata=_check(_keymap))


@dataclass
class Config:
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    ssh: SshConfig = field(default_factory=SshConfig)
    nodes: list[NodeConfig] = field(default_factory=list)
    router: RouterConfig | None = None
    dns: DnsConfig | None = None
    ui: UiConfig = field(default_factory=UiConfig)
    path: Path | None = field(default=None, metadata={"internal": True})

    def node(self, name: str) -> NodeConfig:
        for node in self.nodes:
            if node.name == name:
                return node
        known = ", ".join(n.name for n in self.nodes) or "none"
        raise KeyError(f"no node named {name!r} in the config (known: {known})")

    def resolve_path(self, value: str | None) -> Path | None:
        """A path from the config: `~` expanded, relative paths taken from the config's folder."""
        if value is None:
            return None
        path = Path(value).expanduser()
        if not path.is_absolute() and self.path is not None:
            path = self.path.parent / path
        return path


_SUBSECTIONS: dict[type, dict[str, type]] = {
    Config: {"cluster": ClusterConfig, "ssh": SshConfig, "router": RouterConfig, "dns": DnsConfig, "ui": UiConfig},
    DnsConfig: {"cloudflare": CloudflareConfig},
}
_ARRAYS: dict[type, dict[str, type]] = {Config: {"nodes": NodeConfig}}


# --- locating keys in the source, for line numbers ----------------------------------------


class _LineIndex:
    """Maps dotted key paths to line numbers by scanning table headers and `key =` lines."""

    _header = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\- ]+?)\s*\]\]?\s*(#.*)?$")
    _key = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")

    def __init__(self, text: str):
        self.lines: dict[str, int] = {}
        table = ""
        array_counts: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if match := self._header.match(line):
                name = match.group(2).replace(" ", "")
                if match.group(1) == "[[":
                    index = array_counts.get(name, 0)
                    array_counts[name] = index + 1
                    table = f"{name}[{index}]"
                else:
                    table = self._with_array_index(name, array_counts)
                self.lines.setdefault(table, number)
            elif match := self._key.match(line):
                key = f"{table}.{match.group(1)}" if table else match.group(1)
                self.lines.setdefault(key, number)

    @staticmethod
    def _with_array_index(name: str, array_counts: dict[str, int]) -> str:
        # "[nodes.labels]" after the 2nd "[[nodes]]" belongs to nodes[1].
        head, _, rest = name.partition(".")
        if head in array_counts and rest:
            return f"{head}[{array_counts[head] - 1}].{rest}"
        return name

    def line(self, path: str) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path.rpartition(".")[0] if "." in path else ""
        return None


# --- loading -------------------------------------------------------------------------------


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def config_path(explicit: str | None = None) -> Path:
    """`--config PATH`, else $HOMELAB_TUI_CONFIG, else <XDG config>/homelab-tui/config.toml."""
    if explicit is not None:
        if not explicit.strip():
            raise ConfigError("--config", [ConfigIssue(FILE_ISSUE, "expected the path of a config file, got ''")])
        return Path(explicit).expanduser()
    if env := os.environ.get(CONFIG_ENV):
        return Path(env).expanduser()
    return default_config_path()


MAX_CONFIG_BYTES = 1 << 20  # a config is a few kB; anything this big is the wrong file


def read_config_text(path: Path) -> str:
    """The text of a config file; ConfigError naming the file if it is missing, not a regular file
    (a FIFO would block the read forever, a device never end), too big, or not UTF-8 text."""
    source = str(path)

    def refuse(message: str) -> ConfigError:
        return ConfigError(source, [ConfigIssue(FILE_ISSUE, message)])

    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise refuse(f"not found; {NEXT_STEP}") from None
    except IsADirectoryError:
        raise refuse("is a directory; expected a TOML file") from None
    except OSError as exc:
        raise refuse(f"cannot be read: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise refuse("is a directory; expected a TOML file")
        raise refuse("is not a regular file (a FIFO, socket or device); expected a TOML file")
    with os.fdopen(fd, "rb") as file:
        try:
            data = file.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise refuse(f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise refuse(f"is larger than {MAX_CONFIG_BYTES >> 20} MiB; expected a TOML config of a few kB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(f"is not UTF-8 text (byte {exc.start}); expected a TOML file") from None


def load_config(path: str | os.PathLike[str]) -> Config:
    path = Path(path)
    source = str(path)
    text = read_config_text(path)
    config = parse_config(text, source)
    config.path = path.resolve()
    return config


def parse_config(text: str, source: str = "<config>") -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's tomllib puts the position only in the message: "... (at line 3, column 9)".
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(found.group(1)) if found else None
        message = str(exc).split(" (at line")[0]
        raise ConfigError(source, [ConfigIssue("(syntax)", f"not valid TOML: {message}", line)]) from None
    except RecursionError:
        raise ConfigError(source, [ConfigIssue("(syntax)", "nested too deeply; expected a config's tables "
                                               "and values, a few levels deep")]) from None
    lines = _LineIndex(text)
    issues: list[ConfigIssue] = []

    def report(path: str, message: str) -> None:
        issues.append(ConfigIssue(path, message, lines.line(path)))

    config = _build(Config, raw, "", report)
    if config is not None:
        _check_cross_fields(config, report)
    if issues:
        raise ConfigError(source, issues)
    return config


def _build(cls: type, raw: Any, prefix: str, report: Callable[[str, str], None]) -> Any:
    where = prefix or "(top level)"
    if not isinstance(raw, dict):
        report(where, f"expected a table, got {_describe(raw)}")
        return None
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    values: dict[str, Any] = {}
    ok = True
    for key, value in raw.items():
        path = f"{prefix}.{key}" if prefix else key
        if path in _LITERAL_SECRETS:
            report(path, f"a secret must not be written in the config file; use {_LITERAL_SECRETS[path]}")
            ok = False
        elif key not in fields:
            allowed = ", ".join(sorted(fields))
            report(path, f"unknown key; expected one of: {allowed}")
            ok = False
        elif key in _SUBSECTIONS.get(cls, {}):
            values[key] = _build(_SUBSECTIONS[cls][key], value, path, report)
            ok &= values[key] is not None
        elif key in _ARRAYS.get(cls, {}):
            if not isinstance(value, list):
                report(path, f"expected an array of tables ([[{key}]]), got {_describe(value)}")
                ok = False
                continue
            items = [_build(_ARRAYS[cls][key], item, f"{path}[{i}]", report) for i, item in enumerate(value)]
            ok &= all(item is not None for item in items)
            values[key] = items
        else:
            try:
                values[key] = fields[key].metadata["check"](value)
            except ValueError as exc:
                report(path, str(exc))
                ok = False
    for name, spec in fields.items():
        required = spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
        if required and name not in raw:
            report(f"{prefix}.{name}" if prefix else name, "is required")
            ok = False
    return cls(**values) if ok else None


def key_line(config: Config, key: str) -> int | None:
    """The line of `key` in the file `config` was loaded from, for issues found after loading."""
    try:
        return _LineIndex(read_config_text(config.path)).line(key) if config.path else None
    except ConfigError:
        return None


def _check_cross_fields(config: Config, report: Callable[[str, str], None]) -> None:
    seen_names: dict[str, int] = {}
    seen_addresses: dict[str, int] = {}
    for i, node in enumerate(config.nodes):
        if node.name in seen_names:
            report(f"nodes[{i}].name", f"duplicate node name {node.name!r} (also nodes[{seen_names[node.name]}])")
        seen_names.setdefault(node.name, i)
        if node.address in seen_addresses:
            report(f"nodes[{i}].address",
                   f"duplicate node address {node.address} (also nodes[{seen_addresses[node.address]}])")
        seen_addresses.setdefault(node.address, i)
    pods = ipaddress.IPv4Network(config.cluster.pod_cidr)
    services = ipaddress.IPv4Network(config.cluster.service_cidr)
    if pods.overlaps(services):
        report("cluster.service_cidr", f"overlaps cluster.pod_cidr {pods}; expected separate ranges")
    for i, node in enumerate(config.nodes):
        address = ipaddress.IPv4Address(node.address)
        for key, network in (("pod_cidr", pods), ("service_cidr", services)):
            if address in network:
                report(f"nodes[{i}].address", f"{address} is inside cluster.{key} {network}")
    router = config.router
    if router is not None and router.password_env and router.password_command:
        report("router.password_command", "set either router.password_env or router.password_command, not both")


# --- secrets -------------------------------------------------------------------------------


class SecretError(Exception):
    """A secret could not be obtained. The message names the config key, never the value."""


SECRET_COMMAND_TIMEOUT = 30.0


def read_secret(key: str, env: str | None = None, command: str | None = None, *, required: bool = True,
                timeout: float = SECRET_COMMAND_TIMEOUT) -> str | None:
    """The value of a secret named by `<key>_env` or `<key>_command` in the config. A command
    still running after `timeout` seconds is killed, with every process it started."""
    if env:
        value = os.environ.get(env)
        if value:
            return value
        if required:
            # Name the variable only when it looks like one; otherwise it may be a pasted secret.
            named = env if re.fullmatch(r"[A-Z_][A-Z0-9_]*", env) else f"named in {key}_env"
            raise SecretError(f"{key}_env: the environment variable {named} is not set")
        return None
    if command:
        done = _run_secret_command(key, command, timeout)
        if done.returncode != 0:
            raise SecretError(f"{key}_command: exited with status {done.returncode}")
        value = done.stdout.rstrip("\n")
        if value:
            return value
        if required:
            raise SecretError(f"{key}_command: printed nothing")
        return None
    if required:
        raise SecretError(f"{key}: no secret configured; set {key}_env or {key}_command")
    return None


def _run_secret_command(key: str, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a `*_command` in its own process group, killed whole at `timeout` (a `sh -c` that waits
    on a child would otherwise keep the pipes, and so us, open past the timeout)."""
    try:
        argv = shlex.split(command)
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True, start_new_session=True)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SecretError(f"{key}_command: could not run {printable(command.split()[0])!r}: {reason}") from None
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.communicate()
        raise SecretError(f"{key}_command: printed nothing within {timeout:g}s; stopped it") from None
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def router_password(router: RouterConfig, timeout: float = SECRET_COMMAND_TIMEOUT) -> str:
    return read_secret("router.password", router.password_env, router.password_command,  # type: ignore[return-value]
                       timeout=timeout)


def cloudflare_token(cloudflare: CloudflareConfig, timeout: float = SECRET_COMMAND_TIMEOUT) -> str:
    # An explicit token_command wins over the default token_env.
    env = None if cloudflare.token_command else cloudflare.token_env
    return read_secret("dns.cloudflare.token", env, cloudflare.token_command,  # type: ignore[return-value]
                       timeout=timeout)


# --- saving --------------------------------------------------------------------------------


def config_to_dict(config: Config) -> dict[str, Any]:
    """The TOML document for `config`: None values dropped, since TOML has no null."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    data = dataclasses.asdict(config)
    data.pop("path", None)
    return strip(data)


def save_config(config: Config, path: str | os.PathLike[str] | None = None) -> Path:
    """Write the config atomically, mode 0600, keeping the previous file as `.bak`."""
    target = Path(path) if path is not None else config.path
    if target is None:
        raise ValueError("no path to save the config to")
    text = tomli_w.dumps(config_to_dict(config))
    return atomic_write(target, text, mode=0o600, backup=True)


# --- a first config: `homelab-tui init` ------------------------------------------------------

EXAMPLE_NAME = "config.toml.example"  # packaged beside this module (package data)


def example_config_text() -> str:
    """The commented reference config, from the package (so it works from an installed wheel)."""
    from importlib.resources import files

    return files(__package__).joinpath(EXAMPLE_NAME).read_text(encoding="utf-8")


def parse_node(text: str) -> tuple[str, str]:
    """`NAME=ADDRESS` (init's --node): ValueError saying what was expected."""
    name, sep, address = text.partition("=")
    if not sep:
        raise ValueError(f"expected NAME=ADDRESS such as master1=192.168.40.102, got {printable(text)!r}")
    try:
        return _name(name.strip()), _ipv4(address.strip())
    except ValueError as exc:
        raise ValueError(f"{printable(text)!r}: {exc}") from None


def parse_router(text: str) -> str:
    """init's --router: a hostname or IP address."""
    return _host(text.strip())


def initial_config_text(nodes: list[tuple[str, str]], router: str | None) -> str:
    """The example config with these nodes (the first one the server) and this router, checked
    by parsing it: ConfigError if the answers make an invalid config (say, a node inside the pod CIDR)."""
    text = example_config_text()
    if nodes:
        start, end = text.index("[[nodes]]"), text.index("[router]")
        blocks = []
        for index, (name, address) in enumerate(nodes):
            role = "server" if index == 0 else "agent"
            lines = [(f"name = {_toml(name)}", "short name, used in the UI and on the CLI (--node NAME)"),
                     (f"address = {_toml(address)}", "LAN address; router rules forward here"),
                     (f'role = "{role}"', '"server" (control plane) or "agent" (worker)'),
                     (f"# hostname = {_toml(name + '.kube.local')}", "FQDN set with hostnamectl and in /etc/hosts")]
            blocks.append("[[nodes]]\n" + "".join(f"{value:<37} # {comment}\n" for value, comment in lines))
        text = text[:start] + "\n".join(blocks) + "\n" + text[end:]
    if router:
        section = text.index("[router]")
        text = text[:section] + re.sub(r'^host = "[^"]*"', f"host = {_toml(router)}", text[section:], count=1,
                                       flags=re.M)
        dns = text.index("[dns]")
        if re.fullmatch(r"[0-9.]+", router):  # the router is the LAN's resolver in the reference lab
            text = text[:dns] + re.sub(r"^nameservers = \[[^\]]*\]", f"nameservers = [{_toml(router)}]",
                                       text[dns:], count=1, flags=re.M)
    parse_config(text, "from --node/--router")
    return text


def _toml(value: str) -> str:
    return tomli_w.dumps({"v": value}).partition("=")[2].strip()


def check_init_target(path: Path, force: bool) -> bool:
    """Whether `path` holds a config init may replace (with `force`); ConfigError if it may not."""
    def refuse(message: str) -> ConfigError:
        return ConfigError(str(path), [ConfigIssue(FILE_ISSUE, message)])

    if path.is_dir():
        raise refuse("is a directory; expected the path of a file to write")
    existed = path.exists() or path.is_symlink()
    if existed and not force:
        raise refuse(f"already exists; pass --force to replace it (the current one is then kept as {path.name}.bak)")
    if existed and not path.is_file():
        raise refuse("is not a regular file; expected a config to replace")
    return existed


def write_initial_config(path: Path, nodes: list[tuple[str, str]], router: str | None, *,
                         force: bool = False) -> tuple[Path, Path | None]:
    """Write the first config to `path` (directories created, mode 0600, atomically) and load it
    back. An existing file is replaced only with `force`, and then kept as `<path>.bak`.
    Returns (path, backup or None); ConfigError naming the file otherwise."""
    source = str(path)
    existed = check_init_target(path, force)
    text = initial_config_text(nodes, router)
    try:
        atomic_write(path, text, mode=0o600, backup=True)
    except OSError as exc:
        raise ConfigError(source, [ConfigIssue(FILE_ISSUE, f"cannot be written: {exc.strerror or exc}")]) from None
    load_config(path)
    return path, (path.with_name(path.name + ".bak") if existed else None)

