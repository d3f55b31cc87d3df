# Moved to facts/dns.py; this alias goes once ui/app.py imports it from there.
from .facts.dns import dns_checks  # noqa: F401
