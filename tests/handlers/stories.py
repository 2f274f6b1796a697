"""Conversation stories for merge tests: every snapshot and detail event of one call.

A story is an inbound call that passes through one or more queues and agents,
each agent but the last transferring it on, with optional hold and wrap-up.
Every step produces the whole conversation as a snapshot and the detail events
of that step, with the same times, so the final snapshot is the truth.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from handlers.normalize import Observation, from_detail, from_snapshot

BASE = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
CONVERSATION_ID = "c0ffee00-0000-4000-8000-000000000001"


def iso(offset_ms: int) -> str:
    moment = BASE + timedelta(milliseconds=offset_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def millis(offset_ms: int) -> int:
    return int((BASE - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000) + offset_ms


@dataclass
class Story:
    """The observations of one conversation, in the order they happened."""

    observations: list[Observation] = field(default_factory=list)
    final_snapshot: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Builder:
    conversation_id: str
    participants: list[dict[str, Any]] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)

    def snapshot(self, topic_user: str = "u-any") -> None:
        body = {
            "id": self.conversation_id,
            "participants": copy.deepcopy(self.participants),
            "recordingState": "none",
        }
        self.observations.append(
            from_snapshot(
                body,
                1.0,
                topic=f"v2.users.{topic_user}.conversations",
                correlation_id=f"corr-{len(self.observations)}",
            )
        )

    def detail(self, kind: str, participant: dict[str, Any], at: int, **extra: Any) -> None:
        body = {
            "eventTime": millis(at),
            "conversationId": self.conversation_id,
            "participantId": participant["id"],
            "sessionId": participant["calls"][0]["id"],
            "mediaType": "VOICE",
            **extra,
        }
        self.observations.append(
            from_detail(
                body,
                kind,
                1.0,
                topic=f"v2.detail.events.conversation.{self.conversation_id}.{kind}",
                correlation_id=f"corr-{len(self.observations)}",
            )
        )


def _leg(
    participant_id: str, purpose: str, call_id: str, state: str, **fields: Any
) -> dict[str, Any]:
    return {
        "id": participant_id,
        "purpose": purpose,
        **fields,
        "calls": [{"id": call_id, "state": state, "direction": "inbound", "held": False}],
    }


def _end(participant: dict[str, Any], at: int, disconnect_type: str) -> None:
    call = participant["calls"][0]
    call["state"] = "disconnected"
    call["disconnectedTime"] = iso(at)
    call["disconnectType"] = disconnect_type
    participant["endTime"] = iso(at)


def transfer_story(
    agents: int = 2,
    hold: bool = True,
    wrapup: bool = True,
    step_ms: int = 1000,
    conversation_id: str = CONVERSATION_ID,
) -> Story:
    """Build a call through ``agents`` queue and agent legs. Each agent but the last transfers."""
    builder = _Builder(conversation_id)
    at = 0

    # The customer calls in and waits in the first queue.
    customer = _leg("p-customer", "customer", "call-customer", "connected")
    customer["connectedTime"] = iso(at)
    customer["calls"][0]["connectedTime"] = iso(at)
    builder.participants.append(customer)
    builder.detail("customer.start", customer, at)

    for index in range(agents):
        queue_id = f"queue-{index + 1}"
        user_id = f"user-{index + 1}"
        at += step_ms
        acd = _leg(f"p-acd-{index}", "acd", f"call-acd-{index}", "connected", queueId=queue_id)
        acd["connectedTime"] = iso(at)
        acd["calls"][0]["connectedTime"] = iso(at)
        builder.participants.append(acd)
        builder.snapshot()
        builder.detail("acd.start", acd, at, queueId=queue_id)

        # The agent is alerted, then answers the call, and the queue leg ends.
        at += step_ms
        agent = _leg(
            f"p-agent-{index}",
            "agent",
            f"call-agent-{index}",
            "alerting",
            userId=user_id,
            queueId=queue_id,
        )
        builder.participants.append(agent)
        builder.snapshot(user_id)
        builder.detail("user.start", agent, at, userId=user_id, queueId=queue_id)
        at += step_ms
        agent["calls"][0]["state"] = "connected"
        agent["calls"][0]["connectedTime"] = iso(at)
        agent["connectedTime"] = iso(at)
        _end(acd, at, "transfer")
        builder.snapshot(user_id)
        builder.detail("acd.end", acd, at, disconnectType="transfer")

        if hold:
            at += step_ms
            agent["calls"][0]["held"] = True
            agent["calls"][0]["startHoldTime"] = iso(at)
            builder.snapshot(user_id)

        if index < agents - 1:
            at += step_ms
            agent["calls"][0]["held"] = False
            agent["calls"][0].pop("startHoldTime", None)
            _end(agent, at, "transfer")
            builder.snapshot(user_id)
            builder.detail("user.end", agent, at, userId=user_id, disconnectType="transfer")

    # The customer hangs up, so the last agent's leg ends, then wraps up.
    at += step_ms
    last = builder.participants[-1]
    last["calls"][0]["held"] = False
    last["calls"][0].pop("startHoldTime", None)
    _end(customer, at, "peer")
    _end(last, at, "peer")
    builder.snapshot()
    builder.detail("customer.end", customer, at, disconnectType="peer")
    builder.detail("user.end", last, at, disconnectType="peer", userId=last["userId"])
    if wrapup:
        at += step_ms
        last["wrapup"] = {"code": "code-resolved", "name": "Resolved"}
        last["endAcwTime"] = iso(at)
        builder.snapshot(last["userId"])
        builder.detail("wrapup", last, at, wrapupCode="code-resolved")

    final = {
        "id": conversation_id,
        "participants": copy.deepcopy(builder.participants),
        "recordingState": "none",
    }
    return Story(builder.observations, final)
