"""Keep credentials out of logs, error messages, the summary and the warehouse.

A source URL may carry credentials (`s3://key:secret@bucket`, `https://token@host`, an Azure
SAS token or any other query string), a connection string a password (`password=...`).
`redact_url` masks them in one URL, `redact_text` in free text (log lines, exception
messages that echo a URL or a bucket name), and `remember` registers further secrets (the
parts of the configured source URL, the pseudonymization key) that `redact_text` replaces
wherever they appear, even without a URL around them (botocore names the bucket
`key:secret@bucket` without its scheme).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, unquote

MASK = "***"

# `scheme://`: anything else (`/data/archive`, `C:\\archive`, `data/a@b?c`) is a local path
_URL_START = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
# URLs inside free text: up to whitespace or a quote
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]+")
# `password=...` and friends in connection strings, query strings and messages
_SECRET_SETTING = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|secret_access_key|aws_secret_access_key|token"
    r"|session_token|sas_token|sig|signature|account_key|client_secret|api_key|access_key)"
    r"(\s*=\s*)('[^']*'|\"[^\"]*\"|[^\s;&,'\"]+)"
)
# HTTP headers that carry credentials, as botocore's debug log prints them
_SECRET_HEADER = re.compile(
    r"(?i)(['\"]?(?:authorization|x-amz-security-token|x-goog-api-key|x-ms-access-token)['\"]?"
    r"\s*[:=]\s*b?)('[^']*'|\"[^\"]*\"|\S+)"
)
# Azure URLs name the container in the user part (`az://container@account.dfs.core...`):
# not a secret, kept; a password there is masked
_CONTAINER_IN_USER = frozenset({"az", "abfs", "abfss", "adl", "azure"})
# secrets shorter than this are not replaced in free text (too many false hits)
_MIN_SECRET_LENGTH = 4

_remembered: set[str] = set()


def is_url(value: str) -> bool:
    """Whether `value` is a URL (`scheme://...`) rather than a local path."""
    return bool(_URL_START.match(value))


def _split(url: str) -> tuple[str, str, str, str]:
    """(scheme, user part or "", the rest without query and fragment, query and fragment).

    Not `urllib.parse.urlsplit`: an unencoded password often holds `/` (AWS secret keys do),
    `?`, `#` or `@`, which would end the user part early and leave the rest of the secret in
    the path or the query. So when the authority holds a password (`user:...`, a `:` that is
    not a port), the user part runs to the last `@` of the URL: a URL with a password may be
    over-redacted, never under-redacted.
    """
    scheme, _, rest = url.partition("://")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    user_name, at, _ = authority.partition("@")
    with_password = (
        ":" in (user_name if at else authority)
        and not authority.startswith("[")  # an IPv6 host
        # host:port, unless an `@` follows: then the digits start a password (`key:0//x@b`)
        and not ("@" not in rest and authority.split(":", 1)[1].isdigit())
    )
    user = ""
    if with_password and "@" in rest:
        user, _, rest = rest.rpartition("@")
    elif at:
        user, _, host = authority.rpartition("@")
        rest = host + rest[len(authority) :]
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i != -1), default=len(rest))
    return scheme, user, rest[:cut], rest[cut:]


def redact_url(url: str) -> str:
    """`url` without credentials: the user part becomes `***` (Azure: the password only) and
    the query string and fragment are dropped. Local paths and `file://` paths are returned
    unchanged (a local path may hold `@` or `?`)."""
    if not is_url(url):
        return url
    scheme, user, address, tail = _split(url)
    if scheme.lower() == "file":
        # this job reads `file://` URLs as plain paths: `?` and `#` belong to the path
        return f"{scheme}://{MASK}@{address}{tail}" if user else url
    if user:
        if scheme.lower() in _CONTAINER_IN_USER:
            name, has_password, _ = user.partition(":")
            user = name + (f":{MASK}" if has_password else "")
        else:
            # the whole user part: `https://<token>@host` puts the secret in the user name,
            # and an S3 key id is half of a credential
            user = MASK
        return f"{scheme}://{user}@{address}"
    return f"{scheme}://{address}"


def url_secrets(url: str) -> list[str]:
    """The secret parts of `url` (password or user part, query, fragment, their values)."""
    if not is_url(url):
        return []
    scheme, user, _, tail = _split(url)
    found: list[str] = []
    if user and scheme.lower() not in _CONTAINER_IN_USER:
        found += [user, *user.split(":", 1)]
    elif ":" in user:
        found.append(user.split(":", 1)[1])
    if tail and scheme.lower() != "file":
        found.append(tail[1:])
        for part in re.split(r"[?#]", tail[1:]):
            found += [value for _, value in parse_qsl(part, keep_blank_values=True)]
    return sorted({s for value in found for s in (value, unquote(value)) if s}, key=len)[::-1]


def has_credentials(url: str) -> bool:
    """Whether `url` carries a password, a user token or a query string (an SAS token...)."""
    if not is_url(url):
        return False
    scheme, user, _, tail = _split(url)
    if scheme.lower() == "file":
        return bool(user)
    return bool(tail) or bool(user) and (scheme.lower() not in _CONTAINER_IN_USER or ":" in user)


def remember(*secrets: str) -> None:
    """Register secrets that `redact_text` must replace wherever they appear."""
    _remembered.update(s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH)


def forget_all() -> None:
    """Drop the registered secrets (tests)."""
    _remembered.clear()


def _redact_url_in_text(match: re.Match[str]) -> str:
    """A URL inside a sentence: punctuation after it (`... a.json: timeout`) is kept."""
    url = match.group(0)
    kept = len(url) - len(url.rstrip(".,;:)]}"))
    return redact_url(url[: len(url) - kept]) + url[len(url) - kept :]


def redact_text(text: str) -> str:
    """`text` with every URL redacted, `password=...` style settings masked and every
    remembered secret replaced."""
    for secret in sorted(_remembered, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _URL_IN_TEXT.sub(_redact_url_in_text, text)
    text = _SECRET_HEADER.sub(lambda match: f"{match.group(1)}{MASK}", text)
    return _SECRET_SETTING.sub(lambda match: f"{match.group(1)}{match.group(2)}{MASK}", text)


def install_log_redaction() -> None:
    """Redact every log record of the process, whatever logger and handler it goes to (dlt
    logs through its own handler): its message and traceback go through `redact_text` as the
    record is made. dlt's and the storage clients' messages may echo a URL or a bucket name.
    """
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "redacts", False):
        return

    def redacted_record(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            record.msg, record.args = redact_text(record.getMessage()), ()
        except Exception:  # noqa: BLE001 - a malformed record: keep only its template
            record.msg, record.args = redact_text(str(record.msg)), ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return record

    redacted_record.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(redacted_record)
