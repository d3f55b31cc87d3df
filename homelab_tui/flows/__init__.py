"""The wizards' flows, shared by the CLI (cli/wizard.py) and the TUI (ui/wizards/): a request →
facts → a pure plan → `Staged` plans, applied by `staged.apply_staged`. One module per wizard,
flows/<name>.py, defines its request and its flow (`REQUEST`, `FLOW`). No textual here.

WIZARDS is the registry: the CLI's subcommands, the TUI's keys and the command palette are all
made from it. Adding a wizard is adding its modules and one line here.
"""

from __future__ import annotations

from .wizard import Wizard

WIZARDS: tuple[Wizard, ...] = (
    Wizard("bootstrap", "B", "Bootstrap a cluster", "Install k3s or kubeadm on the first server"),
    Wizard("join", "J", "Join nodes", "Join worker nodes to the cluster"),
    Wizard("metallb", "M", "Set up a MetalLB pool", "Give LoadBalancer Services LAN addresses with MetalLB",
           label="MetalLB"),
    Wizard("deploy", "D", "Deploy an app", "Deploy an app from a form or a manifest, and wait for it to roll out"),
    Wizard("apply", "", "Apply a manifest", "Apply a manifest file server-side (the deploy wizard's manifest mode)"),
    Wizard("undeploy", "", "Undeploy an app", "Remove what deploy made for an app"),
    Wizard("expose", "E", "Expose a service", "Forward a Service through the router, with DDNS and a DNS record"),
    Wizard("unexpose", "U", "Unexpose a service", "Remove the router rules and the record expose made"),
    Wizard("uninstall", "", "Uninstall Kubernetes from nodes", "Drain nodes, remove them from the cluster, and "
           "uninstall k3s or kubeadm from them"),
    Wizard("repair", "", "Repair an exposure", "Put an exposed Service back as it was asked: revert hand edits, "
           "rebalance PCC over the Ready nodes, turn DDNS on, update the record"),
    Wizard("dns_gateway", "", "Serve cluster DNS to the LAN",
           "Expose CoreDNS on a MetalLB address and have the router forward the cluster's domain to it"),
)

__all__ = ["WIZARDS", "Wizard"]
