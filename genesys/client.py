"""Genesys Cloud REST calls the service makes: notifications, conversations, analytics, routing.

Every call goes through one ``ApiSession`` (bearer token, timeout, retry policy,
error translation). Responses are parsed into small frozen dataclasses where the
service relies on their shape, and returned as plain dicts where it passes them
on (conversations, analytics records, queues, users).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import requests

from genesys.errors import InvalidArgumentError, InvalidResponseError, NotFoundError
from genesys.http import (
    DEFAULT_TIMEOUT,
    ApiSession,
    Timeout,
    TokenSource,
    validate_channel_id,
    validate_conversation_id,
)
from genesys.regions import Region, resolve_region
from genesys.retry import RetryPolicy
from genesys_stream.clock import Clock

CHANNELS_PATH: Final = "/api/v2/notifications/channels"
CHANNEL_PATH: Final = "/api/v2/notifications/channels/{channel_id}"
SUBSCRIPTIONS_PATH: Final = "/api/v2/notifications/channels/{channel_id}/subscriptions"
CONVERSATION_PATH: Final = "/api/v2/conversations/{conversation_id}"
DETAILS_QUERY_PATH: Final = "/api/v2/analytics/conversations/details/query"
QUEUES_PATH: Final = "/api/v2/routing/queues"
USERS_PATH: Final = "/api/v2/users"

# Genesys Cloud rejects a PUT of more topics than this with 400.
MAX_TOPICS_PER_CHANNEL: Final = 1000
# Largest pageSize of the analytics conversation details query.
MAX_DETAILS_PAGE_SIZE: Final = 100
# Largest pageSize this client requests from the routing queues and users listings.
# NOTE: an estimate of the API's limit, which Genesys Cloud states per endpoint.
MAX_LIST_PAGE_SIZE: Final = 500

PERMITTED: Final = "Permitted"
REJECTED: Final = "Rejected"


@dataclass(frozen=True)
class Channel:
    """A notification channel: its id, WebSocket URI and expiry (timezone-aware).

    ``connect_uri`` carries the channel's credential, so ``repr`` leaves it out.
    """

    id: str
    connect_uri: str = field(repr=False)
    expires: datetime


@dataclass(frozen=True)
class ChannelInfo:
    """A channel of the current token, as ``GET /channels?includechannels=token`` lists it.

    ``expires`` and ``connect_uri`` are None when the listing leaves them out.
    """

    id: str
    expires: datetime | None
    connect_uri: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SubscriptionResult:
    """One topic of a channel and whether Genesys Cloud accepted it.

    ``state`` is ``"Permitted"`` or ``"Rejected"``; a rejected topic gives the reason in
    ``rejection_reason`` and lists the permissions the OAuth client lacks.
    """

    topic: str
    state: str
    rejection_reason: str | None = None
    missing_permissions: tuple[str, ...] = ()

    @property
    def rejected(self) -> bool:
        return self.state == REJECTED


class GenesysClient:
    """The Genesys Cloud REST API, as the service uses it.

    ``api_url`` is the API base URL (``https://api.<domain>``, or a proxy or the
    simulator). ``timeout`` is in seconds for connecting and for each read.
    Errors are those of ``genesys.errors``.
    """

    def __init__(
        self,
        api_url: str,
        token_source: TokenSource,
        clock: Clock,
        *,
        session: requests.Session | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._api = ApiSession(
            api_url,
            token_source,
            clock,
            session=session,
            timeout=timeout,
            policy=policy,
            rng=rng,
        )
        self._token_source = token_source
        self._clock = clock
        self._timeout = timeout

    @classmethod
    def for_region(
        cls,
        region: Region | str,
        token_source: TokenSource,
        clock: Clock,
        *,
        api_url: str | None = None,
        session: requests.Session | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> GenesysClient:
        """Make a client for a region (a ``Region``, AWS region name or domain).

        ``api_url``, when given, replaces the region's API base URL (a proxy, the simulator).
        """
        resolved = resolve_region(region) if isinstance(region, str) else region
        return cls(
            api_url if api_url is not None else resolved.api_url,
            token_source,
            clock,
            session=session,
            timeout=timeout,
            policy=policy,
            rng=rng,
        )

    @property
    def api_url(self) -> str:
        return self._api.api_url

    def with_policy(self, policy: RetryPolicy) -> GenesysClient:
        """Return a client for the same API and token source that retries by ``policy``.

        The new client has its own HTTP session, so another thread may use it
        while this one is in use. A caller that waits out failures on its own
        timers passes ``RetryPolicy(max_attempts=1)``: every call then returns
        or raises at once, and a 429 raises ``RateLimitedError`` with its
        ``Retry-After``.
        """
        return GenesysClient(
            self._api.api_url, self._token_source, self._clock, timeout=self._timeout, policy=policy
        )

    def close(self) -> None:
        """Close the HTTP session, if this client created it."""
        self._api.close()

    def __enter__(self) -> GenesysClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Notification channels and subscriptions.

    def create_channel(self) -> Channel:
        """Create a notification channel (``POST /api/v2/notifications/channels``).

        Not repeated after a connection failure once the request may have been
        sent, because each repeat could create one more channel.
        """
        body = self._api.request_json("POST", CHANNELS_PATH, idempotent=False)
        entity = _require_object(body, "POST", CHANNELS_PATH)
        channel_id = _require_str(entity, "id", "POST", CHANNELS_PATH)
        return Channel(
            id=channel_id,
            connect_uri=_require_str(entity, "connectUri", "POST", CHANNELS_PATH),
            expires=_parse_time(entity.get("expires"), "expires", "POST", CHANNELS_PATH),
        )

    def channel_exists(self, channel_id: str) -> bool:
        """Tell whether a channel still exists (``HEAD``: 200 True, 404 False)."""
        validate_channel_id(channel_id)
        try:
            self._api.request("HEAD", CHANNEL_PATH, path_params={"channel_id": channel_id})
        except NotFoundError:
            return False
        return True

    def list_channels(self) -> list[ChannelInfo]:
        """List the channels of the current token (``GET /channels?includechannels=token``)."""
        body = self._api.request_json("GET", CHANNELS_PATH, params={"includechannels": "token"})
        channels = []
        for entity in _entities(body, "GET", CHANNELS_PATH):
            expires = entity.get("expires")
            connect_uri = entity.get("connectUri")
            channels.append(
                ChannelInfo(
                    id=_require_str(entity, "id", "GET", CHANNELS_PATH),
                    expires=(
                        _parse_time(expires, "expires", "GET", CHANNELS_PATH)
                        if expires is not None
                        else None
                    ),
                    connect_uri=connect_uri if isinstance(connect_uri, str) else None,
                )
            )
        return channels

    def replace_subscriptions(
        self, channel_id: str, topics: Iterable[str], ignore_errors: bool = False
    ) -> list[SubscriptionResult]:
        """Replace the channel's topics with ``topics`` (``PUT``); at most 1,000 topics.

        With ``ignore_errors`` (``?ignoreErrors=true``, a parameter of the PUT in
        the current Platform API SDKs) a topic the client may not read comes
        back ``Rejected`` instead of failing the whole list.
        """
        validate_channel_id(channel_id)
        body = _topics_body(topics)
        if len(body) > MAX_TOPICS_PER_CHANNEL:
            raise InvalidArgumentError(
                f"Cannot subscribe channel {channel_id!r} to {len(body)} topics: a channel "
                f"takes at most {MAX_TOPICS_PER_CHANNEL}. Split the topics across channels."
            )
        response = self._api.request_json(
            "PUT",
            SUBSCRIPTIONS_PATH,
            path_params={"channel_id": channel_id},
            params={"ignoreErrors": "true"} if ignore_errors else None,
            body=body,
        )
        return _subscription_results(response, "PUT")

    def add_subscriptions(
        self, channel_id: str, topics: Iterable[str], ignore_errors: bool = True
    ) -> list[SubscriptionResult]:
        """Add ``topics`` to the channel (``POST``).

        With ``ignore_errors`` (``?ignoreErrors=true``) a topic the client may not
        read comes back ``Rejected`` instead of failing the whole batch. Adding a
        topic twice changes nothing, so the call is retried like a PUT.
        """
        validate_channel_id(channel_id)
        response = self._api.request_json(
            "POST",
            SUBSCRIPTIONS_PATH,
            path_params={"channel_id": channel_id},
            params={"ignoreErrors": "true"} if ignore_errors else None,
            body=_topics_body(topics),
            idempotent=True,
        )
        return _subscription_results(response, "POST")

    def get_subscriptions(self, channel_id: str) -> list[SubscriptionResult]:
        """Return the channel's topics and their state (``GET``)."""
        validate_channel_id(channel_id)
        response = self._api.request_json(
            "GET", SUBSCRIPTIONS_PATH, path_params={"channel_id": channel_id}
        )
        return _subscription_results(response, "GET")

    def delete_subscriptions(self, channel_id: str) -> None:
        """Remove every topic from the channel (``DELETE``).

        Genesys Cloud has no call that deletes a channel; an unused one expires.
        """
        validate_channel_id(channel_id)
        self._api.request("DELETE", SUBSCRIPTIONS_PATH, path_params={"channel_id": channel_id})

    # Conversations and analytics, for back-fill.

    def get_conversation(self, conversation_id: str) -> dict[str, Any]:
        """Return one conversation in REST shape (``GET /api/v2/conversations/{id}``)."""
        validate_conversation_id(conversation_id)
        body = self._api.request_json(
            "GET", CONVERSATION_PATH, path_params={"conversation_id": conversation_id}
        )
        return _require_object(body, "GET", CONVERSATION_PATH)

    def query_conversation_details(
        self, start: datetime, end: datetime, page_size: int = MAX_DETAILS_PAGE_SIZE
    ) -> Iterator[dict[str, Any]]:
        """Yield every analytics conversation record active between ``start`` and ``end``.

        Pages through ``POST /api/v2/analytics/conversations/details/query`` in
        ``conversationStart`` order until a page has fewer than ``page_size``
        records. ``start`` and ``end`` must be timezone-aware.
        """
        interval = _interval(start, end)
        _check_page_size(page_size, MAX_DETAILS_PAGE_SIZE)
        return self._query_pages(interval, page_size)

    def list_queues(self, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Yield every routing queue of the org (``GET /api/v2/routing/queues``, all pages)."""
        _check_page_size(page_size, MAX_LIST_PAGE_SIZE)
        return self._list_pages(QUEUES_PATH, page_size)

    def list_users(self, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Yield every user of the org (``GET /api/v2/users``, all pages)."""
        _check_page_size(page_size, MAX_LIST_PAGE_SIZE)
        return self._list_pages(USERS_PATH, page_size)

    def _query_pages(self, interval: str, page_size: int) -> Iterator[dict[str, Any]]:
        page_number = 1
        while True:
            body = self._api.request_json(
                "POST",
                DETAILS_QUERY_PATH,
                body={
                    "interval": interval,
                    "paging": {"pageSize": page_size, "pageNumber": page_number},
                    "order": "asc",
                    "orderBy": "conversationStart",
                },
                # A query reads; repeating it changes nothing.
                idempotent=True,
            )
            page = _require_object(body, "POST", DETAILS_QUERY_PATH)
            records = _object_list(page.get("conversations", []), "POST", DETAILS_QUERY_PATH)
            yield from records
            if len(records) < page_size:
                return
            page_number += 1

    def _list_pages(self, path: str, page_size: int) -> Iterator[dict[str, Any]]:
        page_number = 1
        while True:
            body = self._api.request_json(
                "GET", path, params={"pageSize": page_size, "pageNumber": page_number}
            )
            listing = _require_object(body, "GET", path)
            entities = _object_list(listing.get("entities", []), "GET", path)
            yield from entities
            if not entities or _is_last_page(listing, page_number, len(entities), page_size):
                return
            page_number += 1


def _is_last_page(listing: dict[str, Any], page_number: int, count: int, page_size: int) -> bool:
    """Tell whether a listing page is the last: by ``pageCount`` when present, else by its size."""
    page_count = listing.get("pageCount")
    if isinstance(page_count, int) and not isinstance(page_count, bool):
        return page_number >= page_count
    return count < page_size


def _topics_body(topics: Iterable[str]) -> list[dict[str, str]]:
    if isinstance(topics, str):
        raise InvalidArgumentError(
            f"Topics must be a list of topic names, not the single string {topics!r}."
        )
    body = []
    for topic in topics:
        if not isinstance(topic, str) or not topic.strip():
            raise InvalidArgumentError(f"Invalid topic {topic!r}: expected a non-empty string.")
        body.append({"id": topic})
    return body


def _subscription_results(body: Any, method: str) -> list[SubscriptionResult]:
    results = []
    for entity in _entities(body, method, SUBSCRIPTIONS_PATH):
        reason = entity.get("rejectionReason")
        missing = entity.get("missingPermissions") or []
        state = entity.get("state")
        results.append(
            SubscriptionResult(
                topic=_require_str(entity, "id", method, SUBSCRIPTIONS_PATH),
                # NOTE: the API model marks state optional; a listed topic without
                # one is counted as subscribed.
                state=state if isinstance(state, str) else PERMITTED,
                rejection_reason=reason if isinstance(reason, str) else None,
                missing_permissions=tuple(str(item) for item in missing)
                if isinstance(missing, list)
                else (),
            )
        )
    return results


def _entities(body: Any, method: str, path: str) -> list[dict[str, Any]]:
    """Return ``entities`` of a Genesys listing; a missing ``entities`` is an empty list."""
    listing = _require_object(body, method, path)
    return _object_list(listing.get("entities", []), method, path)


def _object_list(value: Any, method: str, path: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InvalidResponseError(
            method, path, f"{method} {path} returned a list that is not a list of JSON objects."
        )
    return value


def _require_object(body: Any, method: str, path: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidResponseError(method, path, f"{method} {path} returned no JSON object.")
    return body


def _require_str(entity: dict[str, Any], key: str, method: str, path: str) -> str:
    value = entity.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidResponseError(
            method, path, f"{method} {path} returned an object without a {key!r} string."
        )
    return value


def _parse_time(value: Any, key: str, method: str, path: str) -> datetime:
    """Parse an ISO-8601 time; one without a zone is taken as UTC, as Genesys Cloud sends UTC."""
    if not isinstance(value, str):
        raise InvalidResponseError(
            method, path, f"{method} {path} returned {key}={value!r}; expected an ISO-8601 time."
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidResponseError(
            method, path, f"{method} {path} returned {key}={value!r}; expected an ISO-8601 time."
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _interval(start: datetime, end: datetime) -> str:
    """Return ``start/end`` as ISO-8601 UTC times with milliseconds, as the analytics API takes."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidArgumentError(
            f"Interval times must be timezone-aware, got start={start.isoformat()} and "
            f"end={end.isoformat()}; attach a zone such as datetime.UTC."
        )
    if start >= end:
        raise InvalidArgumentError(
            f"Interval start {start.isoformat()} must be before its end {end.isoformat()}."
        )
    return f"{_utc_iso(start)}/{_utc_iso(end)}"


def _utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check_page_size(page_size: int, maximum: int) -> None:
    if not 1 <= page_size <= maximum:
        raise InvalidArgumentError(f"Invalid page size {page_size}: expected 1 to {maximum}.")
