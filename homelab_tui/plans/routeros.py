"""RouterOS as plans write it: console lines (previews and `.rsc` export), and the markers that
identify what homelab-tui made on the router. Pure.

A marker is a rule's, address-list entry's or record's comment, one per role:
`[homelab-tui default/nginx tcp/80 pcc 1]` (the first node's mark rule; the count of nodes is in
the rule, not in its name, so a node joining changes only the classifiers and adds one pair). It is the identity (the `.id` is only a cache): an
exact `?comment=` query finds it; none found means it was deleted by hand, two mean a conflict to
show, never one picked. A marker is never numeric nor a bare yes/no, which librouteros would turn
into a number or a bool (field notes §1.3)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

FieldValue = str | int | bool
MARKER_PREFIX = "[homelab-tui "
_MARKER = re.compile(r"\[homelab-tui (?P<service>[a-z0-9.-]+/[a-z0-9.-]+) (?P<protocol>tcp|udp)/(?P<port>\d+)"
                     r"(?: (?P<role>[a-z-]+)(?: (?P<index>\d+))?)?\]")


@dataclass(frozen=True)
class Marker:
    service: str  # namespace/name
    protocol: str
    port: int  # the public port
    role: str = ""  # "pcc", "dstnat", "hairpin-dstnat", "hairpin-masq", "cloudflare", "dns"
    index: int = 0  # 1-based, for the items of one node or one range each

    @property
    def owner(self) -> str:
        """What every marker of one exposed port starts with."""
        return f"{MARKER_PREFIX}{self.service} {self.protocol}/{self.port}"

    def __str__(self) -> str:
        role = f" {self.role}" if self.role else ""
        index = f" {self.index}" if self.index else ""
        return f"{self.owner}{role}{index}]"


def parse_marker(comment: str) -> Marker | None:
    """The marker in a comment (a hand-written prefix may stand before it), or None."""
    match = _MARKER.search(comment or "")
    if match is None:
        return None
    return Marker(match["service"], match["protocol"], int(match["port"]), match["role"] or "",
                  int(match["index"] or 0))


def our_items(items: Iterable[dict[str, str]], service: str = "", protocol: str = "", port: int = 0
              ) -> dict[str, list[dict[str, str]]]:
    """Our items by marker (a marker with a role as the whole comment; dynamic items are the
    router's), of one Service and one exposed port of it when given. More than one item under a
    marker is a conflict for the caller to show."""
    prefix = Marker(service, protocol, port).owner if port else f"{MARKER_PREFIX}{service} " if service else MARKER_PREFIX
    found: dict[str, list[dict[str, str]]] = {}
    for item in items:
        comment = item.get("comment", "")
        if not comment.startswith(prefix):  # cheap: most rules are not ours
            continue
        marker = parse_marker(comment)
        if marker is not None and marker.role and str(marker) == comment and item.get("dynamic") != "true" \
                and (not port or (marker.protocol, marker.port) == (protocol, port)):
            found.setdefault(comment, []).append(item)
    return found


# -- console lines ------------------------------------------------------------------------------

_BARE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:/,*!+@")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "$": "\\$", "?": "\\?", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def api_value(value: FieldValue) -> str:
    """A value as RouterOS takes it: booleans as yes/no, the rest as text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def console_value(value: FieldValue) -> str:
    """A value as the RouterOS console reads it: bare when safe, else double-quoted."""
    text = api_value(value)
    if text and all(char in _BARE_CHARS for char in text):
        return text
    return '"' + "".join(_ESCAPES.get(char, char) for char in text) + '"'


def console_find(**conditions: FieldValue) -> str:
    """An item selector such as `[find comment="..."]`, for set/remove lines in scripts."""
    terms = " and ".join(f"{name.replace('_', '-')}={console_value(value)}" for name, value in conditions.items())
    return f"[find {terms}]" if terms else "[find]"


def render_console(verb: str, menu: str, fields: Mapping[str, FieldValue] | None = None, *, target: str = "",
                   **keywords: FieldValue) -> str:
    """One RouterOS console command, e.g. `/ip firewall nat add chain=dstnat ... comment="..."`.

    Fields keep their order, except that `comment` goes last. `target` selects the item(s) for
    set/remove/enable/disable: an id (`*3`) or a `console_find(...)` selector.
    """
    values = {**{k: api_value(v) for k, v in (fields or {}).items()},
              **{k.replace("_", "-"): api_value(v) for k, v in keywords.items()}}
    ordered = [name for name in values if name != "comment"] + (["comment"] if "comment" in values else [])
    parts = [menu.strip("/").replace("/", " "), verb]
    if target:
        parts.append(target)
    parts.extend(f"{name}={console_value(values[name])}" for name in ordered)
    return "/" + " ".join(parts)
