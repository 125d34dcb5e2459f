"""What the gateway (builders/gateway.py) and the operator's refusal collector (domain/gateway_abuse.py) agree
on: the client id syntax and the syslog tag refusals are sent with (ADR 0018)."""

from __future__ import annotations

import re

CLIENT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")  # a client id in the API key Secret
EVENTS_TAG = "modelguard_gateway"  # nginx allows [A-Za-z0-9_] in a syslog tag, 32 characters at most
