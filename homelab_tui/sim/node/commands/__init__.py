"""The commands the simulated node's shell knows, one module an area: coreutils (text and
files), system (identity, sudo, sh, systemd), network (curl, ss, modprobe, sysctl), packages
(apt, gpg, containerd) and kubernetes (k3s, kubeadm, kubectl). Each registers its commands in
`registry.COMMANDS`; importing this package registers them all. Anything else exits 127 with
`sh: 1: <cmd>: not found`.

Canonical commands: the plan builders should use exactly these; the sim understands them.

    hostname          sudo hostnamectl set-hostname node1.kube.local
    /etc/hosts lines  sudo sh -c 'printf "%s\\n" "192.168.40.102 master1.kube.local" ... >> /etc/hosts'
                        (or `grep -qxF LINE /etc/hosts || echo LINE | sudo tee -a /etc/hosts`)
    memory cgroup     grep -qw cgroup_memory=1 /boot/firmware/cmdline.txt
                        || sudo sed -i "$ s/$/ cgroup_enable=cpuset cgroup_memory=1 cgroup_enable=memory/"
                           /boot/firmware/cmdline.txt
                      then `sudo reboot`; `/proc/cgroups` follows the cmdline of the running boot.
    swap (kubeadm)    sudo swapoff -a && sudo sed -i -E "/^[^#].*\\sswap\\s/ s/^/#/" /etc/fstab
    port check        ss -Hltn 'sport = :6443'           (prints nothing when the port is free)
    k3s server        curl -sfL https://get.k3s.io | INSTALL_K3S_EXEC="server --cluster-cidr=10.42.0.0/16
                        --service-cidr=10.43.0.0/16" sh -            (run as root: `sudo sh -c '...'`)
    token, kubeconfig sudo cat /var/lib/rancher/k3s/server/node-token; sudo cat /etc/rancher/k3s/k3s.yaml
    k3s agent         curl -sfL https://get.k3s.io | K3S_URL=https://192.168.40.102:6443 K3S_TOKEN=... sh -
    air-gapped        upload the script (SFTP, to /tmp), then `INSTALL_K3S_EXEC=... sh /tmp/k3s-install.sh`;
                      with INSTALL_K3S_SKIP_DOWNLOAD=true the binary must already be at /usr/local/bin/k3s.
    service state     systemctl is-active k3s   (or k3s-agent, kubelet)
    kubeadm prereqs   plans.nodes.kubeadm_prerequisites: modprobe overlay/br_netfilter and `sysctl --system`
                        (kubeadm's preflight wants ip_forward = 1); the pkgs.k8s.io key (`curl | gpg --dearmor`)
                        and source, `apt-get update` (Ubuntu alone has no kubeadm); `apt-get install -y
                        containerd kubelet kubeadm kubectl`; `containerd config default | sed ... > config.toml`
    kubeadm           sudo kubeadm init --pod-network-cidr=10.244.0.0/16
                      sudo kubeadm token create --print-join-command   (on the master)
                      sudo kubeadm join 192.168.40.102:6443 --token ... --discovery-token-ca-cert-hash sha256:...
    flannel           sudo KUBECONFIG=/etc/kubernetes/admin.conf kubectl apply -f <flannel manifest URL>

The cluster side (the Kubernetes sim) is reached through the `SimCluster` hooks.
"""

from . import coreutils, kubernetes, network, packages, system  # noqa: F401  (each registers its commands)
from .registry import COMMANDS, Command

__all__ = ["COMMANDS", "Command"]
