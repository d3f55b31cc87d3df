"""Facts: the current state of the lab, read live for the plan builders (and for `check` and the
panes): a node over SSH (node.py), the local kubeconfig (kubeconfig.py), the cluster's API
(cluster.py), the router (router.py) and DNS (dns.py). A flow reads its facts here, then hands
them to a pure builder in plans/. Reading never changes anything."""
