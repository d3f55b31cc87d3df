"""homelab-tui. Importing the package filters, once for every entry point, the one warning a
dependency raises on every start: asyncssh (2.24.1, the newest on PyPI) still names
cryptography's DSA types, which cryptography 51 marks deprecated at import; we never use DSA keys.
Only that warning, and only from asyncssh's modules (matched by text: importing cryptography to
name its category would cost every start, `--version` included)."""

import warnings

__version__ = "0.1.0"

warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"asyncssh(\.|$)")
