"""homelab-tui. Importing the package filters, once for every entry point, the one warning a
dependency raises on every start: asyncssh (2.24.1, the newest on PyPI) still names
cryptography's DSA types, which cryptography 51 marks deprecated at import; we never use DSA keys.
Only that category, and only from asyncssh's modules."""

import warnings

__version__ = "0.1.0"

try:
    from cryptography.utils import CryptographyDeprecationWarning
except ImportError:  # pragma: no cover - cryptography comes with asyncssh
    pass
else:
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning, module=r"asyncssh(\.|$)")
