"""The simulated Raspberry Pi behind each SSH server of `homelab_tui.sim.ssh_nodes`: its state
and tiny file system (`state`), the shell that runs command lines against it (`parser`, `proc`,
`shell`) with its commands grouped by area (`commands`), SFTP over its files (`sftp`), and the
hooks through which it tells the Kubernetes side what happened (`cluster`)."""
