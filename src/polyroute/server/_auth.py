"""Client and admin authentication (sha256 of bearer keys) and per-key rate limits."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from polyroute.gateway_config import SecuritySettings
from polyroute.server._errors import HTTPError, forbidden, rate_limited, unauthorized
from polyroute.state import StateStore


def hash_key(key: str) -> str:
    """sha256 hex digest of an API key (what the config stores)."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the client key's configured name (never the key) and its role."""

    name: str
    is_admin: bool
    rate_limit_rps: float | None = None


class Authenticator:
    """Checks ``Authorization: Bearer <key>`` against hashed client keys and the admin key.

    Parameters
    ----------
    security : SecuritySettings
        Client keys (sha256 digests or env names), admin key env name, rate limits.
    secret_lookup : callable
        ``lookup(env_name) -> SecretStr | None``.
    store : StateStore
        Holds the token buckets.
    """

    def __init__(
        self,
        security: SecuritySettings,
        secret_lookup: Callable[[str | None], SecretStr | None],
        store: StateStore,
    ) -> None:
        self.security = security
        self.store = store
        self._clients: dict[str, Principal] = {}
        for ck in security.client_keys:
            digest = ck.sha256
            if digest is None:
                value = secret_lookup(ck.env)
                digest = hash_key(value.get_secret_value()) if value is not None else None
            if digest is not None:
                self._clients[digest] = Principal(ck.name, False, ck.rate_limit_rps)
        env_key = secret_lookup(security.client_keys_env)
        if env_key is not None:
            self._clients.setdefault(
                hash_key(env_key.get_secret_value()), Principal("env", False, None)
            )
        admin = secret_lookup(security.admin_key_env)
        self._admin = hash_key(admin.get_secret_value()) if admin is not None else None

    @property
    def n_client_keys(self) -> int:
        return len(self._clients)

    @property
    def admin_enabled(self) -> bool:
        return self._admin is not None

    @property
    def anonymous(self) -> bool:
        return self.security.allow_anonymous and not self._clients

    def _digest(self, authorization: str | None) -> str | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return hash_key(token.strip())

    def client(self, authorization: str | None) -> Principal:
        """The caller of a ``/v1`` route; raises 401 (the admin key is accepted too)."""
        if self.anonymous:
            return Principal("anonymous", False, None)
        digest = self._digest(authorization)
        if digest is None:
            raise unauthorized("missing API key: expected header 'Authorization: Bearer <key>'")
        found = self._clients.get(digest)
        if found is not None:
            return found
        if self._admin is not None and hmac.compare_digest(digest, self._admin):
            return Principal("admin", True, None)
        raise unauthorized("invalid API key")

    def admin(self, authorization: str | None) -> Principal:
        """The caller of an ``/admin`` route; 401 without a known key, 403 for client keys."""
        digest = self._digest(authorization)
        if digest is None:
            raise unauthorized("missing admin key: expected header 'Authorization: Bearer <key>'")
        if self._admin is not None and hmac.compare_digest(digest, self._admin):
            return Principal("admin", True, None)
        if digest in self._clients:
            raise forbidden("client keys cannot use the admin API; expected the admin key")
        if self._admin is None:
            raise forbidden(f"admin API disabled: set {self.security.admin_key_env} to enable it")
        raise unauthorized("invalid admin key")

    async def check_rate(self, who: Principal) -> None:
        """Take one token from the caller's bucket; raises 429 with Retry-After when empty.

        While the shared store is unavailable the store's policy decides (fail open by default);
        failing closed answers 503 with Retry-After, since the limit itself was not checked.
        """
        rate = who.rate_limit_rps or self.security.rate_limit_rps
        if rate is None or who.is_admin:
            return
        allowed, retry_after = await self.store.take(
            "ratelimit:" + who.name, rate_per_s=rate, burst=float(self.security.rate_limit_burst)
        )
        if not allowed and not self.store.health().available:
            raise HTTPError(
                503,
                "rate limiter unavailable: the shared state store cannot be reached and "
                "rate limits fail closed; retry later",
                "service_unavailable",
                "rate_limiter_unavailable",
                [(b"retry-after", b"1")],
            )
        if not allowed:
            raise rate_limited(
                retry_after,
                f"rate limit of key {who.name!r} exceeded "
                f"({rate:g} requests/s, burst "
                f"{self.security.rate_limit_burst})",
            )
