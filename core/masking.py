"""Keep credentials out of logs, API answers and MLflow params."""

import re

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:@/]*):(?P<password>[^@/]*)@")


def mask_url(url: str | None) -> str | None:
    """`mongodb://user:secret@host/db` -> `mongodb://user:***@host/db`; anything else unchanged."""
    if url is None:
        return None
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)


def mask_text(text: str, secrets: list[str | None]) -> str:
    """`text` with every URL's password and each of `secrets` replaced by ***."""
    masked = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    for secret in secrets:
        if secret:
            masked = masked.replace(secret, "***")
    return masked
