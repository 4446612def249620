"""The client's address: one rule for the lockout (django-axes), allauth's rate limits and
the sign-in history.

Behind a proxy, STUDIO_CLIENT_IP_HEADER names the request.META key the proxy fills (e.g.
HTTP_X_FORWARDED_FOR). Of a comma-separated list the last entry is taken: it is the one the
proxy appended itself; those before it came from the client and can be forged.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    header = getattr(settings, "STUDIO_CLIENT_IP_HEADER", "")
    candidates = []
    if header and request.META.get(header):
        candidates.append(request.META[header].split(",")[-1].strip())
    candidates.append(request.META.get("REMOTE_ADDR", ""))
    for value in candidates:
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            continue
    return None
