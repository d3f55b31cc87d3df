"""What the router reports, for the plans that depend on it."""

from __future__ import annotations

from collections.abc import Callable

from ..config import Config
from ..connect import router_client
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
