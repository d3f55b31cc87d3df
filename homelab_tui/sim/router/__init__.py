"""The parts of the simulated RouterOS router that `homelab_tui.sim.routeros.RouterOsSim`
serves: the API's binary word codec (`wire`), the menus with their writable properties, value
checks and `!trap`s (`menus`), and the evaluation of API query words (`queries`)."""
