"""The simulated lab: every component of the reference lab speaking its real wire protocol on
127.0.0.1, so that kubectl, OpenSSH, librouteros and dig work against it as they would against
the real thing. `lab.Lab` assembles and wires them; each server is one module with its parts in a
package beside it: `kube_api.KubeApiSim` (parts in `kube/`), `ssh_nodes.SshNodeFleet` (the node
behind each SSH server in `node/`), `routeros.RouterOsSim` (parts in `router/`), and
`dns_server.DnsSim` (the router's resolver; `cluster_dns.ClusterDns` is the CoreDNS its FWD
entries reach) and `cloudflare.CloudflareSim`. The sim shares no code with the clients it
tests (an import contract in pyproject.toml keeps it so)."""
