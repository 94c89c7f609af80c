"""Whether a local service's web server is up: one GET that answers 200."""

from __future__ import annotations

import urllib.request


def answers(url: str, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False
