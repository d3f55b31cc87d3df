"""Release (`x` on a NAT pane row of ours): the rule's marker dropped, read against the router
(the marker must be on exactly one item)."""

from __future__ import annotations

from ..config import Config
from ..plans import Plan
from ..plans.release import ReleaseAnswers, ReleaseFacts, release_plan


async def plan_release(config: Config, menu: str, comment: str) -> Plan:
    from ..facts.expose import router_facts  # the router client loads with a plan

    router = await router_facts(config)
    table = {"/ip/firewall/nat": router.nat, "/ip/firewall/mangle": router.mangle,
             "/ip/firewall/address-list": router.address_list}.get(menu, ())
    count = sum(1 for item in table if item.get("comment") == comment)
    return release_plan(ReleaseAnswers(menu, comment), ReleaseFacts(count))
