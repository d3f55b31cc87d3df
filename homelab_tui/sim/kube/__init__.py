"""The parts of the simulated Kubernetes API server that `homelab_tui.sim.kube_api.KubeApiSim`
assembles: the resource types and errors it speaks in, label and field selectors, the object
store with its watch history, the verbs and the admission they run (defaults, validation,
allocation), the controller that plays kube-controller-manager, scheduler, kubelets and MetalLB,
the server-side printing of Tables, discovery, the HTTP handlers, and the throwaway TLS."""
