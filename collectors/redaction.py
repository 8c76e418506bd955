"""Secret redaction: every quarantine excerpt, run message and stored target passes through it.

The shapes below run in Python (`redact`) and in DuckDB (`regexp_replace` with SECRET_PATTERN, RE2), so they use
only syntax both engines share (no look-around, no backreferences). Each shape masks the whole match with
REDACTED: over-redaction (a harmless word next to `token=`) is accepted, under-redaction is not. The list is
tested shape by shape in both engines (tests/test_security_secrets.py::test_every_secret_shape_is_redacted).
"""

from __future__ import annotations

import re

EXCERPT_CHARS = 200
REDACTED = "[REDACTED]"

# name → pattern. Names are for the tests and the docs; the order matters only for readability.
SECRET_SHAPES: dict[str, str] = {
    # OpenAI / Mem0 / Anthropic-style and Stripe keys: sk-…, m0-…, sk_live_…
    "api_key_prefix": r"\b(?:sk|m0|pk|rk)[-_](?:live_|test_|proj-|ant-)?[A-Za-z0-9_\-]{6,}",
    # credentials inside a URL: scheme://user:password@host (database URLs, Basic auth, token@host)
    "url_userinfo": r"\b[a-z][a-z0-9+.\-]*://[^\s/@\"'<>]+@",
    # Authorization header values
    "auth_header": r"\b(?:bearer|token|basic)\s+[A-Za-z0-9_\-.=/+]{6,}",
    # key=value / "key": "value" where the key names a secret; a quoted value is masked whole (spaces included),
    # an unquoted one up to the next quote, comma, brace or line end (the tail of a multi-word password too)
    "named_value": r"[A-Za-z0-9_\-]*(?:api[_-]?key|authorization|secret|passw(?:or)?d|passphrase|pwd|token|"
                   r"credentials?)(?:[_\-]?(?:access[_\-]?)?key)?[\"']?\s*[:=]\s*"
                   r"(?:\\?\"[^\"\n]*\"?|\\?'[^'\n]*'?|[^\n\"',}]+)",  # \\?: a quote escaped inside JSON text
    # AWS access key ids, and a 40-character secret key next to an aws… name
    "aws_access_key_id": r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b",
    "aws_secret_key": r"aws[A-Za-z0-9_\-]{0,30}[\"']?\s*[:=]?\s*[\"']?[A-Za-z0-9/+]{40}",
    # ... and one standing alone: exactly 40 base64 characters (also masks a bare SHA-1: over-redaction)
    "bare_40_char_key": r"(?:^|[^A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?:$|[^A-Za-z0-9/+=])",
    # GitHub tokens (classic and fine-grained)
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
    # JSON Web Tokens: header.payload.signature, both base64url JSON objects
    "jwt": r"\beyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*",
    # Google API keys
    "google_api_key": r"\bAIza[0-9A-Za-z_\-]{30,}",
    # Slack webhooks and tokens
    "slack_webhook": r"hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_\-]+",
    "slack_token": r"\bxox[abposr]-[A-Za-z0-9\-]{10,}",
    # PEM private keys (the header alone is enough to mask what follows on the line)
    "private_key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----[^\n]*",
}

SECRET_PATTERN = "(?i)" + "|".join(f"(?:{p})" for p in SECRET_SHAPES.values())
_SECRET_RE = re.compile(SECRET_PATTERN)


def redact(text: str) -> str:
    return _SECRET_RE.sub(REDACTED, text)


def excerpt(text: str) -> str:
    """First EXCERPT_CHARS characters with secrets masked (masked before cutting, so no half-secret survives)."""
    return redact(text[: EXCERPT_CHARS * 4])[:EXCERPT_CHARS]
