"""What the router reports, for the plans that depend on it."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from ..config import Config
from ..connect import router_client
from ..plans.metallb import RouterLan
from ..state import describe_error


async def router_networks(config: Config, note: Callable[[str], None]) -> tuple[str, ...]:
    """The router's networks, which pod and service CIDRs must not overlap; () without a router.
    The check is a safety net: when the router cannot be read, `note` says it was skipped."""
    if config.router is None:
        return ()
    try:
        async with await router_client(config) as router:
            addresses = await router.addresses()
    except Exception as exc:
        note(f"could not read the router's networks ({describe_error(exc)}); "
             "the CIDRs are checked against the nodes only")
        return ()
    return tuple(a.address for a in addresses if not a.disabled)


async def router_lan(config: Config, node_addresses: Iterable[str]) -> tuple[RouterLan | None, str]:
    """The LAN as the router has it, for a MetalLB pool to stay out of: the router's network that
    holds the nodes, its gateways, the pools its DHCP servers lease from (following next-pool) and
    the static leases. (None, why) without a router, or when it cannot be read."""
    if config.router is None:
        return None, "no [router] in the config"
    from ..clients.router import RouterTrap  # here: librouteros loads only when a router is read

    try:
        async with await router_client(config) as router:
            addresses = [a for a in await router.addresses() if not a.disabled]
            pools = {row.get("name", ""): row for row in await router.print("/ip/pool")}
            try:
                servers = [row for row in await router.print("/ip/dhcp-server") if row.get("disabled") != "true"]
            except RouterTrap:  # no DHCP server menu: every pool counts
                servers = [{"address-pool": name} for name in pools]
            networks = await router.dhcp_networks()
            leases = await router.dhcp_leases()
    except Exception as exc:  # noqa: BLE001 - any failure to read is said, and the check skipped
        return None, f"the router could not be read ({describe_error(exc)})"
    nodes = [ipaddress.IPv4Address(a) for a in node_addresses]
    lan = next((a for a in addresses if any(n in ipaddress.IPv4Interface(a.address).network for n in nodes)), None)
    network = ipaddress.IPv4Interface(lan.address).network if lan else None
    gateways = [str(ipaddress.IPv4Interface(lan.address).ip)] if lan else []
    gateways += [n.gateway for n in networks if n.gateway and (network is None or ipaddress.IPv4Interface(
        n.address).network.overlaps(network))]
    dhcp: dict[str, str] = {}
    for server in servers:
        name = server.get("address-pool", "")
        while name in pools and name not in dhcp:  # a full pool hands on to its next-pool
            dhcp[name] = pools[name].get("ranges", "")
            name = pools[name].get("next-pool", "")
    static = tuple((lease.address, lease.host_name or lease.mac_address) for lease in leases if not lease.dynamic)
    return RouterLan(str(network) if network else "", tuple(dict.fromkeys(gateways)), tuple(dhcp.items()),
                     static), ""
