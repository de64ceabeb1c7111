"""No secret in any text the flow writes: a SAS's signature (a datastore's log URL, a mirror in Azure Blob
storage), a storage account's key, a bearer token, a secret in a JSON or key=value dump are replaced by REDACTED
wherever a message is made of text that came from outside (an SDK's error, a URL the user gave)."""

import re

SECRETS = (
    re.compile(r"(sig=)[^&\s'\"<>]+", re.IGNORECASE),
    re.compile(r"(AccountKey=)[^;\s'\"]+", re.IGNORECASE),
    re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE),
    re.compile(r"((?:account_?key|client_?secret|password)[\"']?\s*[:=]\s*[\"']?)[^\"'\s,;}]+", re.IGNORECASE),
    re.compile(r"(://[^/:@\s]+:)[^@/\s]+(@)"),  # a password in a URL's user part
)


def redacted(text: str) -> str:
    """`text` with every secret it holds replaced by REDACTED."""
    for secret in SECRETS:
        text = secret.sub(
            lambda found: found.group(1) + "REDACTED" + (found.group(2) if found.re.groups > 1 else ""), text
        )
    return text
