"""A simulated MikroTik RouterOS 7 API server (the binary word protocol, port 8728/8729).

It models the reference lab's hEX S: firewall NAT, mangle and filter tables (ordered: `place-before`
and `move`; counters; the `invalid` flag of a rule whose interface or list is gone), address lists,
the connection tracking table, /ip cloud DDNS (behind a carrier NAT too), interfaces and interface
lists, addresses, the DHCP server, identity and resources, and `/tool/fetch` (answered by `connect`).
Real clients (librouteros) talk to it over TCP on 127.0.0.1, optionally through TLS. Bad input gets a `!trap` worded like RouterOS's.

Wire format (RouterOS API manual): a sentence is a list of words ended by an empty word; each
word is a length prefix of 1-5 bytes followed by the bytes. Replies are `!re`, `!done`, `!trap`
and `!fatal`; a `.tag=` on a command is echoed on every reply sentence of that command.

The lab drives it through plain methods: `cloud`, `rules()`, `add_rule()`, `set_ddns()`,
`bump_counters()`, `add_connection()`, `remove_interface()`, `drop_connections()`, and the
`faults` knobs (fail the k-th add on a menu, drop the connection at the n-th command). The wire codec, the menus with
their value checks, and the queries live in `homelab_tui.sim.router`.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import re
import secrets
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from homelab_tui.models import CloudStatus

from .router.menus import (
    ADDRESS_LISTS,
    ADDRESSES,
    ARGUMENT_VALUE_FAILURE,
    CLOUD,
    CONNECTIONS,
    DHCP_LEASES,
    DHCP_SERVERS,
    GENERAL_FAILURE,
    IDENTITY,
    INTERFACE_LISTS,
    INTERFACE_WILDCARDS,
    INTERFACES,
    LIST_MEMBERS,
    MANGLE,
    MENUS,
    MISSING_ITEM_OR_COMMAND,
    NAT,
    PRINT_FLAGS,
    READ_VERBS,
    RESOURCE,
    Menu,
    SimTrap,
    invalid_value,
    parse_duration,
)
from .router.queries import query_matches
from .router.wire import WireError, encode_sentence, read_sentence

# --- the reference lab's contents ----------------------------------------------------------

# ether1 carries the PPPoE uplink; ether2-5 are bridge ports (nodes on 2-4, 5 unplugged).
LAB_INTERFACES = (
    *(
        {
            "name": f"ether{n}", "default-name": f"ether{n}", "type": "ether",
            "mac-address": f"48:8F:5A:10:20:0{n}", "running": "false" if n == 5 else "true",
            **({"slave": "true"} if n > 1 else {}),
        }
        for n in range(1, 6)
    ),
    {"name": "bridge", "type": "bridge", "mac-address": "48:8F:5A:10:20:02", "running": "true"},
    {"name": "pppoe-out1", "type": "pppoe-out", "running": "true"},
)
# The builtin lists, then defconf's WAN and LAN; the PPPoE client was added to WAN by hand.
BUILTIN_INTERFACE_LISTS = ("all", "none", "dynamic", "static")
LAB_INTERFACE_LISTS = ("WAN", "LAN")
LAB_LIST_MEMBERS = (
    {"list": "LAN", "interface": "bridge", "comment": "defconf"},
    {"list": "WAN", "interface": "ether1", "comment": "defconf"},
    {"list": "WAN", "interface": "pppoe-out1"},
)
LAB_LEASES = (
    {"address": "192.168.40.102", "mac-address": "DC:A6:32:00:01:02", "host-name": "master1"},
    {"address": "192.168.40.103", "mac-address": "DC:A6:32:00:01:03", "host-name": "node1"},
    {"address": "192.168.40.104", "mac-address": "DC:A6:32:00:01:04", "host-name": "node2"},
)


def _format_duration(seconds: float) -> str:
    """RouterOS style: 1w2d3h4m5s, leading zero units left out."""
    remaining = int(seconds)
    parts = []
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count or (unit == "s" and not parts):
            parts.append(f"{count}{unit}")
    return "".join(parts)


# What /ip/cloud says when the address the cloud server saw is not the router's own (RouterOS 7,
# as captured in terraform-provider-routeros resource_ip_cloud.go).
BEHIND_NAT_WARNING = "Router is behind a NAT. Remote connection might not work."
# The trap a failing add answers unless told otherwise: RouterOS's wording for a refused add.
DEFAULT_ADD_FAILURE = "failure: already have such entry"


# --- fault knobs ---------------------------------------------------------------------------


@dataclass
class RouterFaults:
    """Misbehaviour for tests. Change the fields at any time; they apply to the next sentence.
    `reset()` puts every knob back."""

    # Close a connection, without an answer, when it sends the sentence after its first N
    # (the login counts). None: never.
    drop_after: int | None = None
    # Seconds to wait before answering each sentence.
    reply_delay: float = 0.0
    # Menus (API paths) on which every `add` fails with a trap.
    fail_adds: set[str] = field(default_factory=set)
    # Menu -> k: the k-th `add` on that menu from now on fails (once) with `add_failure`.
    fail_add_at: dict[str, int] = field(default_factory=dict)
    add_failure: str = DEFAULT_ADD_FAILURE
    adds_seen: dict[str, int] = field(default_factory=dict)
    # Cut the connection that sends command N+1 from now on (any connection, logins not
    # counted), once, without an answer. With `drop_applies` that command is carried out first,
    # so the client cannot know it happened; else it never is.
    drop_after_commands: int | None = None
    drop_applies: bool = False
    commands_seen: int = 0

    def fail_add(self, menu: str, nth: int = 1, message: str = DEFAULT_ADD_FAILURE) -> None:
        """The `nth` add on `menu` from now on fails with `!trap =message=<message>`."""
        path = menu_path(menu)
        self.fail_add_at[path], self.adds_seen[path], self.add_failure = nth, 0, message

    def drop_mid_plan(self, after: int, *, applied: bool = False) -> None:
        """Answer `after` more commands, then cut the connection at the next one."""
        self.drop_after_commands, self.drop_applies, self.commands_seen = after, applied, 0

    def reset(self) -> None:
        for name, value in vars(RouterFaults()).items():
            setattr(self, name, value)

    def add_fails(self, path: str) -> bool:
        """Whether this `add` on `path` is to fail (counting it)."""
        if path in self.fail_adds:
            return True
        if path not in self.fail_add_at:
            return False
        self.adds_seen[path] = self.adds_seen.get(path, 0) + 1
        if self.adds_seen[path] < self.fail_add_at[path]:
            return False
        del self.fail_add_at[path]
        return True

    def drops_at_command(self) -> bool:
        """Whether to cut the connection at this command (counting it)."""
        if self.drop_after_commands is None:
            return False
        self.commands_seen += 1
        if self.commands_seen <= self.drop_after_commands:
            return False
        self.drop_after_commands = None
        return True


# --- the simulator -------------------------------------------------------------------------


@dataclass
class _Session:
    logged_in: bool = False
    challenge: str = ""  # the pre-6.43 login's, once given
    answered: int = 0
    closing: bool = False


class RouterOsSim:
    """The simulated router. `await start()`, then connect to `127.0.0.1:{port}`."""

    def __init__(
        self,
        *,
        password: str,
        user: str = "admin",
        identity: str = "hex-gw",
        version: str = "7.16.2 (stable)",
        board_name: str = "RB760iGS",
        public_address: str = "198.51.100.19",
        wan_address: str | None = None,
        ddns_name: str = "529c0491d41c.sn.mynetname.net",
        ddns_enabled: bool = False,
        ddns_update_seconds: float = 0.0,
        nat_rules: Iterable[Mapping[str, str]] = (),
        mangle_rules: Iterable[Mapping[str, str]] = (),
        leases: Iterable[Mapping[str, str]] = LAB_LEASES,
        ssl_context: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        legacy_login: bool = False,
    ) -> None:
        self.user = user
        self.legacy_login = legacy_login  # RouterOS before 6.43: only the MD5 challenge login
        self._password = password
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.faults = RouterFaults()
        self.version = version
        self.board_name = board_name
        self.public_address = public_address  # what the MikroTik cloud server sees
        # The address on pppoe-out1. Behind a carrier-grade NAT it is in 100.64.0.0/10 and differs
        # from `public_address`: /ip/cloud then warns that the router is behind a NAT.
        self.wan_address = wan_address or public_address
        self.ddns_name = ddns_name
        # With a delay, DDNS reports "updating..." and no name until the delay has passed.
        self.ddns_update_seconds = ddns_update_seconds
        self.cpu_load = 3
        self.sentences_received = 0
        self._booted = time.monotonic() - 3 * 86400 - 4 * 3600  # "3d4h..." at start
        self._identity = identity
        self._ddns_since: float | None = time.monotonic() - ddns_update_seconds if ddns_enabled else None
        self._cloud_settings = {"ddns-update-interval": "none", "update-time": "true"}
        self._items: dict[str, list[dict[str, str]]] = {p: [] for p, m in MENUS.items() if not m.single}
        self._next_id: dict[str, int] = dict.fromkeys(self._items, 1)
        self._expires: dict[str, float] = {}  # an address list entry's .id -> when its timeout ends
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._load_lab(nat_rules, mangle_rules, leases)
        # Who answers a TCP connection from the router to (address, port): "answers", "refused" or
        # "timeout" (the lab wires in its kube-proxy, sim/kube_proxy.py). Alone, nobody answers.
        self.connect: Callable[[str, int], str] = lambda address, port: "timeout"
        self.test_policy = True  # the API user's group has the `test` policy (/tool/fetch needs it)

    def __repr__(self) -> str:
        return f"RouterOsSim(user={self.user!r}, port={self.port}, identity={self._identity!r})"

    def _load_lab(
        self,
        nat_rules: Iterable[Mapping[str, str]],
        mangle_rules: Iterable[Mapping[str, str]],
        leases: Iterable[Mapping[str, str]],
    ) -> None:
        for interface in LAB_INTERFACES:
            self._store("/interface", {"mtu": "1500", "disabled": "false", "dynamic": "false", **interface})
        for name in BUILTIN_INTERFACE_LISTS:
            self._store(INTERFACE_LISTS.path, {"name": name, "builtin": "true", "dynamic": "false"})
        for name in LAB_INTERFACE_LISTS:
            self._store(INTERFACE_LISTS.path, {"name": name, **INTERFACE_LISTS.defaults, "comment": "defconf"})
        for member in LAB_LIST_MEMBERS:
            self._store(LIST_MEMBERS.path, {**LIST_MEMBERS.defaults, **member})
        self._store("/ip/address", {
            "address": "192.168.40.1/24", "network": "192.168.40.0", "interface": "bridge",
            "actual-interface": "bridge", **ADDRESSES.defaults,
        })
        # PPPoE: a /32 whose network is the ISP's end of the link (here the .1 of the same /24).
        peer = ipaddress.IPv4Network(f"{self.wan_address}/24", strict=False).network_address + 1
        self._store("/ip/address", {
            "address": f"{self.wan_address}/32", "network": str(peer), "interface": "pppoe-out1",
            "actual-interface": "pppoe-out1", **ADDRESSES.defaults, "dynamic": "true",
        })
        self._store("/ip/pool", {"name": "dhcp", "ranges": "192.168.40.50-192.168.40.254"})
        self._store("/ip/dhcp-server", {**DHCP_SERVERS.defaults, "name": "defconf", "interface": "bridge",
                                         "address-pool": "dhcp", "lease-time": "10m"})
        self._store("/ip/dhcp-server/network", {
            "address": "192.168.40.0/24", "gateway": "192.168.40.1", "dns-server": "192.168.40.1",
        })
        for lease in leases:
            self._store("/ip/dhcp-server/lease", {
                **DHCP_LEASES.defaults, "status": "bound", "dynamic": "true",
                "active-address": lease["address"], **lease,
            })
        for rule in nat_rules:
            self.add_rule(NAT.path, rule)
        for rule in mangle_rules:
            self.add_rule(MANGLE.path, rule)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on host:port (port 0 picks one; a restart reuses the port picked first)."""
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, ssl=self.ssl_context, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close every client connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        self.drop_connections()
        for task in self._tasks:
            task.cancel()  # also those sleeping in a reply delay
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> RouterOsSim:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def connection_count(self) -> int:
        return len(self._writers)

    def drop_connections(self) -> int:
        """Abort every open API connection (as a reboot or a cable pull would). Returns how many."""
        writers = list(self._writers)
        for writer in writers:
            writer.transport.abort()
        return len(writers)

    # -- lab-facing state -------------------------------------------------------------------

    @property
    def cloud(self) -> CloudStatus:
        fields = self._cloud_fields()
        return CloudStatus(
            ddns_enabled=fields["ddns-enabled"] == "true",
            dns_name=fields.get("dns-name", ""),
            public_address=fields.get("public-address", ""),
            status=fields.get("status", ""),
            warning=fields.get("warning", ""),
        )

    @property
    def identity(self) -> str:
        return self._identity

    def set_ddns(self, enabled: bool, *, settled: bool = False) -> None:
        """Switch DDNS as `/ip cloud set ddns-enabled=` does: `updating...` for
        `ddns_update_seconds`, then `updated`. `settled`: enabled long ago, already updated."""
        if not enabled:
            self._ddns_since = None
        else:
            self._ddns_since = time.monotonic() - (self.ddns_update_seconds if settled else 0.0)

    def rules(self, menu: str) -> list[dict[str, str]]:
        """The items of a list menu (any of them, not only firewall tables) as print shows them."""
        path = menu_path(menu)
        return [self._shown(path, item) for item in self._table(path)]

    def interface_names(self) -> set[str]:
        return {item["name"] for item in self._table(INTERFACES.path)}

    def interface_list_names(self) -> set[str]:
        return {item["name"] for item in self._table(INTERFACE_LISTS.path)}

    def remove_interface(self, name: str) -> None:
        """An interface goes away (a PPPoE client removed, a VLAN deleted). Rules naming it stay,
        flagged `invalid`; its list memberships and addresses go with it."""
        table = self._table(INTERFACES.path)
        table.remove(self._find(INTERFACES.path, name))
        self._items[LIST_MEMBERS.path] = [m for m in self._table(LIST_MEMBERS.path) if m["interface"] != name]
        self._items[ADDRESSES.path] = [
            a for a in self._table(ADDRESSES.path) if a["interface"] != name or a["dynamic"] != "true"
        ]

    def add_connection(self, fields: Mapping[str, str] | None = None, **keywords: str) -> str:
        """Seed the connection tracking table (RouterOS has no `add` there). Names as RouterOS
        prints them (`src-address`, or `src_address` as a keyword); addresses carry their port,
        `203.0.113.7:50123`. The reply direction defaults to the plain reverse (no NAT)."""
        given = {**(fields or {}), **{name.replace("_", "-"): str(value) for name, value in keywords.items()}}
        protocol = given.get("protocol", "tcp")
        connection = {
            "protocol": protocol, "src-address": "", "dst-address": "",
            "reply-src-address": given.get("dst-address", ""), "reply-dst-address": given.get("src-address", ""),
            **({"tcp-state": "established"} if protocol == "tcp" else {}),
            "timeout": "23h59m59s", "orig-packets": "1", "orig-bytes": "60", "repl-packets": "1", "repl-bytes": "60",
            "orig-rate": "0bps", "repl-rate": "0bps", "assured": "true", "confirmed": "true", "seen-reply": "true",
            "expected": "false", "dying": "false", "fasttrack": "false", "srcnat": "false", "dstnat": "false",
            **given,
        }
        return self._store(CONNECTIONS.path, connection)

    def add_rule(self, menu: str, fields: Mapping[str, str]) -> str:
        """Add an item as the API `add` would, checks included (raises SimTrap). Returns its id."""
        return self._add(self._menu(menu_path(menu)), {k: str(v) for k, v in fields.items()})

    def bump_counters(self, menu: str, item_id: str, *, packets: int = 1, bytes: int = 60) -> None:
        """Simulate traffic through a rule: its `packets` and `bytes` grow."""
        item = self._find(menu_path(menu), item_id)
        item["packets"] = str(int(item["packets"]) + packets)
        item["bytes"] = str(int(item["bytes"]) + bytes)

    # -- connections ------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        session = _Session()
        try:
            while not session.closing:
                sentence = await read_sentence(reader)
                if not sentence:
                    continue  # empty sentences are ignored
                self.sentences_received += 1
                if self.faults.drop_after is not None and session.answered >= self.faults.drop_after:
                    break
                if session.logged_in and sentence[0] != "/login" and self.faults.drops_at_command():
                    if self.faults.drop_applies:
                        self._answer(session, sentence)  # carried out; the answer is lost
                    break
                if self.faults.reply_delay:
                    await asyncio.sleep(self.faults.reply_delay)
                writer.write(b"".join(encode_sentence(reply) for reply in self._answer(session, sentence)))
                await writer.drain()
                session.answered += 1
        except (asyncio.IncompleteReadError, ConnectionError, WireError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            pass  # stop() tears the connection down; asyncio would log a cancelled handler as an error
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
            self._tasks.discard(task)

    def _answer(self, session: _Session, sentence: list[str]) -> list[list[str]]:
        command, *words = sentence
        attributes: dict[str, str] = {}
        queries: list[str] = []
        tag: str | None = None
        for word in words:
            if word.startswith("="):
                name, _, value = word[1:].partition("=")
                attributes[name] = value
            elif word.startswith("?"):
                queries.append(word[1:])
            elif word.startswith(".tag="):
                tag = word.removeprefix(".tag=")

        if command == "/quit":
            session.closing = True
            return [["!fatal", "session terminated on request"]]
        if command == "/login":
            replies = self._login(session, attributes)
        elif not session.logged_in:
            session.closing = True
            return [["!fatal", "not logged in"]]
        else:
            try:
                replies = self._run(command, attributes, queries)
            except SimTrap as trap:
                category = [] if trap.category is None else [f"=category={trap.category}"]
                replies = [["!trap", *category, f"=message={trap.message}"], ["!done"]]
        if tag is not None:
            replies = [[*reply, f".tag={tag}"] for reply in replies]
        return replies

    def _login(self, session: _Session, attributes: dict[str, str]) -> list[list[str]]:
        if self.legacy_login:
            return self._challenge_login(session, attributes)
        if attributes.get("name") == self.user and attributes.get("password") == self._password:
            session.logged_in = True
            return [["!done"]]
        return [["!trap", "=message=invalid user name or password (6)"], ["!done"]]

    def _challenge_login(self, session: _Session, attributes: dict[str, str]) -> list[list[str]]:
        """Before 6.43: `/login` (with or without a password, which is ignored) answers a challenge;
        `/login =name= =response=00<md5(0x00 + password + challenge)>` logs in."""
        if "response" not in attributes or not session.challenge:
            session.challenge = secrets.token_hex(16)
            return [["!done", f"=ret={session.challenge}"]]
        digest = hashlib.md5(b"\x00" + self._password.encode() + bytes.fromhex(session.challenge),
                             usedforsecurity=False).hexdigest()
        if attributes.get("name") == self.user and attributes["response"] == "00" + digest:
            session.logged_in = True
            return [["!done"]]
        return [["!trap", "=message=cannot log in"], ["!done"]]

    # -- commands ---------------------------------------------------------------------------

    def _run(self, command: str, attributes: dict[str, str], queries: list[str]) -> list[list[str]]:
        if command == "/tool/fetch":
            return self._fetch(attributes)
        path, _, verb = command.rpartition("/")
        if path not in MENUS:
            raise SimTrap("no such command prefix", MISSING_ITEM_OR_COMMAND)
        menu = MENUS[path]
        if verb not in menu.verbs:
            raise SimTrap("no such command", MISSING_ITEM_OR_COMMAND)
        if verb in READ_VERBS:
            return self._print(menu, attributes, queries)
        if verb == "force-update":
            return [["!done"]]
        if menu.single:
            self._set_single(menu, attributes)
            return [["!done"]]
        if verb == "add":
            if path in self.faults.fail_adds:
                raise SimTrap(f"failure: simulated fault on {path} add", GENERAL_FAILURE)
            if self.faults.add_fails(path):
                raise SimTrap(self.faults.add_failure, GENERAL_FAILURE)
            return [["!done", f"=ret={self._add(menu, attributes)}"]]
        if verb == "reset-counters-all":
            targets = self._table(path)
        else:
            targets = self._targets(path, attributes)
        if verb == "remove":
            self._remove(path, targets)
        elif verb == "set":
            changes = self._checked(menu, {k: v for k, v in attributes.items() if k not in ("numbers", ".id")})
            for item in targets:
                self._set(menu, item, changes)
        elif verb == "move":
            self._move(path, targets, attributes.get("destination", ""))
        elif verb in ("reset-counters", "reset-counters-all"):
            for item in targets:
                item |= {"bytes": "0", "packets": "0"}
        else:  # enable / disable
            for item in targets:
                item["disabled"] = "true" if verb == "disable" else "false"
        return [["!done"]]

    def _fetch(self, attributes: Mapping[str, str]) -> list[list[str]]:
        """`/tool/fetch url=http://<address>:<port>/ output=none`, as RouterOS 7 streams it: `!re
        status=connecting`, then `!re status=finished` or a `!trap` saying why. A timeout is
        answered at once (the sim does not wait out RouterOS's own)."""
        if not self.test_policy:
            raise SimTrap("not enough permissions (9)", GENERAL_FAILURE)
        if not attributes.get("url"):
            raise SimTrap("missing value(s) of argument(s) url", ARGUMENT_VALUE_FAILURE)
        url = urlsplit(attributes["url"])
        if url.scheme != "http" or not url.hostname:
            raise SimTrap(f"failure: unsupported URL {attributes['url']}", GENERAL_FAILURE)
        connecting = ["!re", "=status=connecting", "=.section=0"]
        answer = self.connect(url.hostname, url.port or 80)
        if answer != "answers":
            failure = "connection refused" if answer == "refused" else "connection timeout"
            return [connecting, ["!trap", f"=message=failure: {failure}"], ["!done"]]
        return [connecting, ["!re", "=status=finished", "=downloaded=0", "=total=0", "=duration=00:00:01",
                             "=.section=1"], ["!done"]]

    def _remove(self, path: str, targets: list[dict[str, str]]) -> None:
        if path == INTERFACE_LISTS.path and any(item["builtin"] == "true" for item in targets):
            raise SimTrap("failure: can not remove builtin list", GENERAL_FAILURE)
        table = self._table(path)
        table[:] = [item for item in table if all(item is not t for t in targets)]
        if path == ADDRESS_LISTS.path:
            for item in targets:
                self._expires.pop(item[".id"], None)

    # Where items name an interface, or an interface list.
    _REFERENCES = {
        INTERFACES.path: ("in-interface", "out-interface", "interface", "actual-interface"),
        INTERFACE_LISTS.path: ("in-interface-list", "out-interface-list", "list"),
    }

    def _set(self, menu: Menu, item: dict[str, str], changes: Mapping[str, str]) -> None:
        if menu.path in self._REFERENCES and changes.get("name", item["name"]) != item["name"]:
            self._rename(menu, item, changes["name"])
        self._apply(menu, item, changes)
        if menu is ADDRESS_LISTS and "timeout" in changes:
            self._set_timeout(item)

    def _rename(self, menu: Menu, item: Mapping[str, str], new: str) -> None:
        """RouterOS refers to interfaces and lists by their id, not their name: a rename shows in
        every rule, member and address that names it."""
        old = item["name"]
        if item.get("builtin") == "true":
            raise SimTrap("failure: can not change builtin list", GENERAL_FAILURE)
        if any(other["name"] == new for other in self._table(menu.path)):
            raise SimTrap("failure: already have such name", GENERAL_FAILURE)
        keys = self._REFERENCES[menu.path]
        lists_path = LIST_MEMBERS.path
        for path, table in self._items.items():
            for other in table:
                for key in keys:
                    if key == "list" and path != lists_path:
                        continue  # an address list entry's `list` is an address list
                    if other.get(key, "").removeprefix("!") == old:
                        other[key] = other[key].replace(old, new)

    def _move(self, path: str, moving: list[dict[str, str]], destination: str) -> None:
        """`move numbers=<ids> destination=<id>`: the items go, in the order given, before the
        destination; without one, to the end."""
        table = self._table(path)
        anchor = self._find(path, destination) if destination else None
        if anchor is not None and any(anchor is item for item in moving):
            raise SimTrap("failure: cannot move item before itself", GENERAL_FAILURE)
        rest = [item for item in table if all(item is not m for m in moving)]
        position = len(rest) if anchor is None else next(i for i, item in enumerate(rest) if item is anchor)
        table[:] = rest[:position] + moving + rest[position:]

    def _print(self, menu: Menu, attributes: dict[str, str], queries: list[str]) -> list[list[str]]:
        proplist = attributes.pop(".proplist", None)
        count_only = "count-only" in attributes
        for name in attributes:
            if name not in PRINT_FLAGS and name != "count-only":
                raise SimTrap(f"unknown parameter {name}", ARGUMENT_VALUE_FAILURE)
        items = [self._single_fields(menu)] if menu.single else [self._shown(menu.path, i) for i in self._table(menu.path)]
        matching = [item for item in items if query_matches(item, queries)]
        if count_only:
            return [["!done", f"=ret={len(matching)}"]]
        wanted = proplist.split(",") if proplist is not None else None
        replies = []
        for item in matching:
            shown = item if wanted is None else {k: item[k] for k in wanted if k in item}
            replies.append(["!re", *(f"={k}={v}" for k, v in shown.items())])
        return [*replies, ["!done"]]

    def _checked(self, menu: Menu, attributes: Mapping[str, str]) -> dict[str, str]:
        """Run each value through its check; refuse properties the menu cannot write."""
        checked = {}
        for name, value in attributes.items():
            check = menu.writable.get(name)
            if check is None:
                raise SimTrap(f"unknown parameter {name}", ARGUMENT_VALUE_FAILURE)
            if value == "" and name in menu.required:
                raise SimTrap(f"missing value(s) of argument(s) {name}", ARGUMENT_VALUE_FAILURE)
            checked[name] = check(name, value, self) if value != "" else ""
        return checked

    def _add(self, menu: Menu, attributes: Mapping[str, str]) -> str:
        if menu.single or "add" not in menu.verbs:
            raise SimTrap("no such command", MISSING_ITEM_OR_COMMAND)
        attributes = dict(attributes)
        place_before = attributes.pop("place-before", None)
        checked = self._checked(menu, attributes)
        missing = [name for name in menu.required if not checked.get(name)]
        if missing:
            raise SimTrap(f"missing value(s) of argument(s) {' '.join(missing)}", ARGUMENT_VALUE_FAILURE)
        position = len(self._table(menu.path))
        if place_before is not None:
            anchor = self._find(menu.path, place_before)
            position = next(i for i, item in enumerate(self._table(menu.path)) if item is anchor)
        item: dict[str, str] = {}
        self._apply(menu, item, checked)
        item |= {name: value for name, value in menu.defaults.items() if name not in item}
        if menu is ADDRESSES and "network" not in item:
            item["network"] = str(ipaddress.IPv4Interface(item["address"]).network.network_address)
        self._refuse_duplicate(menu, item)
        if menu is ADDRESS_LISTS:
            item["creation-time"] = time.strftime("%Y-%m-%d %H:%M:%S")
        item_id = self._store(menu.path, item, position)
        if menu is ADDRESS_LISTS:
            self._set_timeout(self._find(menu.path, item_id))
        return item_id

    _UNIQUE: Mapping[str, tuple[str, ...]] = {
        ADDRESS_LISTS.path: ("list", "address"), INTERFACE_LISTS.path: ("name",),
        LIST_MEMBERS.path: ("list", "interface"),
    }

    def _refuse_duplicate(self, menu: Menu, item: Mapping[str, str]) -> None:
        keys = self._UNIQUE.get(menu.path)
        if keys and any(all(other.get(k) == item.get(k) for k in keys) for other in self._table(menu.path)):
            raise SimTrap("failure: already have such entry", GENERAL_FAILURE)

    def _set_timeout(self, item: dict[str, str]) -> None:
        """An address list entry with a timeout is dynamic and goes away when it runs out."""
        seconds = parse_duration(item.get("timeout", ""))
        if seconds:
            self._expires[item[".id"]] = time.monotonic() + seconds
            item["dynamic"] = "true"
        else:
            self._expires.pop(item[".id"], None)
            item.pop("timeout", None)
            item["dynamic"] = "false"

    def _shown(self, path: str, item: Mapping[str, str]) -> dict[str, str]:
        """An item as print shows it now: `invalid` when an interface or interface list it names is
        gone, the time left of an address list entry's timeout."""
        shown = dict(item)
        if "invalid" in shown:
            interfaces = self.interface_names() | set(INTERFACE_WILDCARDS)
            lists = self.interface_list_names()
            gone = any(
                shown.get(key, "").removeprefix("!") not in known
                for keys, known in ((("in-interface", "out-interface", "interface"), interfaces),
                                    (("in-interface-list", "out-interface-list"), lists))
                for key in keys if shown.get(key)
            )
            shown["invalid"] = "true" if gone else "false"
        expires = self._expires.get(shown[".id"]) if path == ADDRESS_LISTS.path else None
        if expires is not None:
            shown["timeout"] = _format_duration(max(0.0, expires - time.monotonic()))
        return shown

    @staticmethod
    def _apply(menu: Menu, item: dict[str, str], changes: Mapping[str, str]) -> None:
        for name, value in changes.items():
            if value == "" and name not in ("comment", "log-prefix"):
                item.pop(name, None)  # an empty value unsets the property
            else:
                item[name] = value

    def _store(self, path: str, fields: Mapping[str, str], position: int | None = None) -> str:
        item_id = f"*{self._next_id[path]:X}"
        self._next_id[path] += 1
        table = self._table(path)
        table.insert(len(table) if position is None else position, {".id": item_id, **fields})
        return item_id

    def _table(self, path: str) -> list[dict[str, str]]:
        if path not in self._items:
            raise SimTrap("no such command prefix", MISSING_ITEM_OR_COMMAND)
        if path == ADDRESS_LISTS.path and self._expires:
            now = time.monotonic()
            expired = {item_id for item_id, end in self._expires.items() if end <= now}
            self._items[path] = [item for item in self._items[path] if item[".id"] not in expired]
            for item_id in expired:
                del self._expires[item_id]
        return self._items[path]

    def _menu(self, path: str) -> Menu:
        if path not in MENUS:
            raise SimTrap("no such command prefix", MISSING_ITEM_OR_COMMAND)
        return MENUS[path]

    def _find(self, path: str, reference: str) -> dict[str, str]:
        """An item by .id (`*A`) or, where items have names, by name."""
        for item in self._table(path):
            if item[".id"].upper() == reference.upper() or item.get("name") == reference:
                return item
        raise SimTrap("no such item", MISSING_ITEM_OR_COMMAND)

    def _targets(self, path: str, attributes: Mapping[str, str]) -> list[dict[str, str]]:
        references = attributes.get(".id", attributes.get("numbers", ""))
        if not references:
            raise SimTrap("missing value(s) of argument(s) numbers", ARGUMENT_VALUE_FAILURE)
        return [self._find(path, reference) for reference in references.split(",")]

    # -- single-item menus ------------------------------------------------------------------

    def _single_fields(self, menu: Menu) -> dict[str, str]:
        if menu is RESOURCE:
            return self._resource_fields()
        if menu is IDENTITY:
            return {"name": self._identity}
        return self._cloud_fields()

    def _set_single(self, menu: Menu, attributes: Mapping[str, str]) -> None:
        changes = self._checked(menu, attributes)
        if menu is IDENTITY and "name" in changes:
            if not changes["name"]:
                raise invalid_value("name")
            self._identity = changes["name"]
        elif menu is CLOUD:
            enabled = changes.pop("ddns-enabled", None)
            if enabled is not None and (enabled == "true") != (self._ddns_since is not None):
                self.set_ddns(enabled == "true")
            self._cloud_settings.update(changes)

    def _cloud_fields(self) -> dict[str, str]:
        fields = {"ddns-enabled": "false" if self._ddns_since is None else "true", **self._cloud_settings}
        fields["back-to-home-vpn"] = "revoked-and-disabled"
        if self._ddns_since is not None:
            if time.monotonic() - self._ddns_since < self.ddns_update_seconds:
                fields["status"] = "updating..."
            else:
                fields |= {"public-address": self.public_address, "dns-name": self.ddns_name, "status": "updated"}
                if self.wan_address != self.public_address:
                    fields["warning"] = BEHIND_NAT_WARNING
        return fields

    def _resource_fields(self) -> dict[str, str]:
        return {
            "uptime": _format_duration(time.monotonic() - self._booted),
            "version": self.version,
            "build-time": "2024-10-29 09:26:28",
            "factory-software": "6.44.6",
            "free-memory": "201326592",
            "total-memory": "268435456",
            "cpu": "MIPS 1004Kc V2.15",
            "cpu-count": "4",
            "cpu-frequency": "880",
            "cpu-load": str(self.cpu_load),
            "free-hdd-space": "4063232",
            "total-hdd-space": "16777216",
            "architecture-name": "mmips",
            "board-name": self.board_name,
            "platform": "MikroTik",
        }


def menu_path(menu: str) -> str:
    """The API path of a menu written as the terminal shows it (`/ip firewall nat`) or as the API
    names it (`/ip/firewall/nat`, with or without the slashes at either end)."""
    return "/" + "/".join(re.findall(r"[^\s/]+", menu))
