"""Who is asking: the signed-in user from an OpenID Connect bearer token (Microsoft Entra ID or any OIDC issuer), or
the one local user when sign-in is off.

Tokens are JWTs checked against the issuer's discovery document and signing keys (JWKS): signature, issuer, audience,
expiry, and optionally an app role or group from the settings' allow-lists. Failures are AuthError with the HTTP
status to answer (401: no or bad token; 403: a valid token without the role or group).
"""
from __future__ import annotations

import json
import threading
import urllib.request
from dataclasses import dataclass, field

LOCAL_USER = "local"
_DISCOVERY_TIMEOUT = 10


class AuthError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Principal:
    user_id: str  # Entra object ID (`oid`) when present, else `sub`; "local" without sign-in
    name: str = ""
    roles: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    claims: dict = field(default_factory=dict, compare=False, hash=False)


ANONYMOUS = Principal(LOCAL_USER, "local user")


def principal_from_claims(claims: dict) -> Principal:
    user_id = str(claims.get("oid") or claims.get("sub") or "")
    name = str(claims.get("preferred_username") or claims.get("email") or claims.get("name") or user_id)
    return Principal(
        user_id, name, tuple(map(str, claims.get("roles") or ())), tuple(map(str, claims.get("groups") or ())), claims
    )


def check_allowed(principal: Principal, required_roles: list[str], allowed_groups: list[str]) -> None:
    """AuthError 403 unless the principal has one of the required roles or allowed groups (when any are set)."""
    if not required_roles and not allowed_groups:
        return
    if set(principal.roles) & set(required_roles) or set(principal.groups) & set(allowed_groups):
        return
    wanted = [f"role {r}" for r in required_roles] + [f"group {g}" for g in allowed_groups]
    raise AuthError(403, f"signed in as {principal.name}, but this needs one of: {', '.join(wanted)}")


class TokenValidator:
    """Validates bearer tokens of one issuer; its discovery document and keys are fetched on first use and cached
    (PyJWKClient refetches the key set when a token names a key it has not seen, as after a key rotation)."""

    def __init__(self, issuer: str, audience: str, required_roles: list[str] | None = None,
                 allowed_groups: list[str] | None = None, leeway_seconds: int = 60):
        if not audience:
            raise ValueError("WAF_AUTH_AUDIENCE is required when WAF_AUTH_ISSUER is set")
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.required_roles = list(required_roles or [])
        self.allowed_groups = list(allowed_groups or [])
        self.leeway = leeway_seconds
        self._lock = threading.Lock()
        self._discovery: dict | None = None
        self._keys = None

    def _metadata(self):
        import jwt

        with self._lock:
            if self._discovery is None:
                url = f"{self.issuer}/.well-known/openid-configuration"
                try:
                    with urllib.request.urlopen(url, timeout=_DISCOVERY_TIMEOUT) as response:  # noqa: S310 - configured URL
                        self._discovery = json.loads(response.read())
                except (OSError, ValueError) as exc:
                    raise AuthError(503, f"the sign-in provider's discovery document is unavailable ({url}): {exc}") from exc
                self._keys = jwt.PyJWKClient(self._discovery["jwks_uri"], cache_keys=True, timeout=_DISCOVERY_TIMEOUT)
            return self._discovery, self._keys

    def validate(self, token: str) -> Principal:
        import jwt

        discovery, keys = self._metadata()
        try:
            key = _signing_key(keys, token)
            claims = jwt.decode(
                token, key,
                algorithms=discovery.get("id_token_signing_alg_values_supported") or ["RS256"],
                audience=self.audience, issuer=discovery.get("issuer", self.issuer), leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError(401, "the token has expired: sign in again") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError(401, f"the token is not for this API (expected audience {self.audience})") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError(401, "the token comes from another issuer") from exc
        except jwt.PyJWKClientError as exc:
            raise AuthError(401, f"the token's signing key is unknown to the issuer: {exc}") from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthError(401, "the token's signature is invalid") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(401, f"the token is invalid: {exc}") from exc
        principal = principal_from_claims(claims)
        if not principal.user_id:
            raise AuthError(401, "the token names no user (no oid or sub claim)")
        check_allowed(principal, self.required_roles, self.allowed_groups)
        return principal


def _signing_key(keys, token: str):
    """The issuer's key named by the token's `kid`; a token without one (some providers) takes the issuer's only
    signing key, and is refused when the issuer has several."""
    import jwt

    if jwt.get_unverified_header(token).get("kid"):
        return keys.get_signing_key_from_jwt(token).key
    signing = keys.get_signing_keys()
    if len(signing) != 1:
        raise jwt.PyJWKClientError("the token names no key (no kid) and the issuer has several")
    return signing[0].key


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise AuthError(401, "sign-in required: send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "the Authorization header must be 'Bearer <token>'")
    return token.strip()
