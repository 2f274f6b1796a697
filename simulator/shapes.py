"""Render a conversation timeline, as of a moment, in each shape Genesys Cloud uses.

- ``notification_body``: the ``eventBody`` of a conversation frame on a queue or
  user topic (``userId``, ``additionalProperties``, ``calls[].self/other``).
- ``rest_conversation``: ``GET /api/v2/conversations/{id}`` (``user{}``,
  ``queueName``, ``calls[].ani/dnis``, ``startTime``, ``selfUri``, ``divisions``).
- ``analytics_record``: one record of
  ``POST /api/v2/analytics/conversations/details/query`` (sessions, segments,
  metrics), with open segments for what is still going on.
- ``detail_events``: the ``v2.detail.events.conversation.<id>.<kind>`` bodies.

Participant ids and communication ids are the same in every shape: an analytics
``participantId`` is the participant id and its ``sessionId`` the communication
id, as in Genesys Cloud. Empty fields are left out, as Genesys often does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from simulator.conversations import CALLBACK, CHAT, MESSAGE, VOICE, Conversation, Leg, Org

_WRAPUP_PROMPT = "optional"
_ALERTING_TIMEOUT_MS = 30_000


def iso(epoch_seconds: float) -> str:
    """Format epoch seconds as ISO-8601 UTC with milliseconds, like ``2022-07-04T20:04:12.131Z``."""
    ms = round(epoch_seconds * 1000)
    seconds, millis = divmod(ms, 1000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{millis:03d}Z"


def epoch_ms(epoch_seconds: float) -> int:
    return round(epoch_seconds * 1000)


def _before(value: float | None, at: float) -> bool:
    return value is not None and value <= at


def _set_time(target: dict[str, Any], key: str, value: float | None, at: float) -> None:
    """Set ``target[key]`` to ``value`` as ISO-8601 when it is not after ``at``."""
    if value is not None and value <= at:
        target[key] = iso(value)


def communication_state(leg: Leg, at: float) -> str:
    """Return the communication state of ``leg`` at ``at`` (which must not precede its start)."""
    if _before(leg.end, at):
        return "disconnected"
    if _before(leg.connected, at):
        return "connected"
    return "alerting"


def _held(leg: Leg, at: float) -> float | None:
    """Return the start of the hold in progress at ``at``, or None."""
    for hold_start, hold_end in leg.holds:
        if hold_start <= at < hold_end:
            return hold_start
    return None


def _initial_state(conversation: Conversation, leg: Leg) -> str:
    if leg.purpose == "agent":
        return "alerting"
    if leg.purpose == "customer" and conversation.media is CALLBACK:
        return "scheduled"
    return "connected"


def _visible_legs(conversation: Conversation, at: float) -> list[Leg]:
    return [leg for leg in conversation.legs if leg.start <= at]


def queue_ids_at(conversation: Conversation, at: float) -> list[str]:
    """Return the queues the conversation has been routed to by ``at``, in order."""
    queue_ids: list[str] = []
    for leg in _visible_legs(conversation, at):
        if leg.purpose == "customer":
            continue
        if leg.queue_id is not None and leg.queue_id not in queue_ids:
            queue_ids.append(leg.queue_id)
    return queue_ids


def _queue_id(conversation: Conversation, leg: Leg, at: float) -> str | None:
    """Return the participant's queue as of ``at``: a customer has one once it is routed."""
    if leg.purpose != "customer":
        return leg.queue_id
    routed = any(other.purpose == "acd" and other.start <= at for other in conversation.legs)
    return leg.queue_id if routed else None


def user_ids_at(conversation: Conversation, at: float) -> list[str]:
    """Return the agents the conversation has alerted by ``at``, in order."""
    user_ids: list[str] = []
    for leg in _visible_legs(conversation, at):
        if leg.user_id is not None and leg.user_id not in user_ids:
            user_ids.append(leg.user_id)
    return user_ids


def _address(name: str, address: str) -> dict[str, Any]:
    number = address.removeprefix("tel:")
    return {
        "name": name,
        "nameRaw": name,
        "addressNormalized": address,
        "addressRaw": number,
        "addressDisplayable": number,
    }


# Notification shape


def notification_body(conversation: Conversation, org: Org, at: float) -> dict[str, Any]:
    """Return the conversation frame ``eventBody`` as Genesys would emit it at ``at``."""
    return {
        "id": conversation.id,
        "participants": [
            _notification_participant(conversation, org, leg, at)
            for leg in _visible_legs(conversation, at)
        ],
        "recordingState": _recording_state(conversation, at),
        "divisions": [{"division": {"id": org.division_id}, "entities": []}],
    }


def _recording_state(conversation: Conversation, at: float) -> str:
    if not conversation.recording:
        return "none"
    return "none" if at >= conversation.customer.finish() else "active"


def _notification_participant(
    conversation: Conversation, org: Org, leg: Leg, at: float
) -> dict[str, Any]:
    participant: dict[str, Any] = {"id": leg.participant_id}
    _set_time(participant, "connectedTime", leg.connected, at)
    _set_time(participant, "endTime", leg.finish_time(), at)
    if leg.name is not None:
        participant["name"] = leg.name
    if leg.purpose == "customer" and conversation.customer_address:
        participant["address"] = conversation.customer_address
    if leg.user_id is not None:
        participant["userId"] = leg.user_id
    queue_id = _queue_id(conversation, leg, at)
    if queue_id is not None:
        participant["queueId"] = queue_id
    participant["purpose"] = leg.purpose
    participant.update(_wrapup_fields(leg, at))
    if leg.purpose in ("acd", "agent"):
        queue = {"id": leg.queue_id} if leg.purpose == "acd" else {}
        participant["conversationRoutingData"] = {"queue": queue, "language": {}, "priority": 0}
    if leg.purpose == "agent":
        participant["alertingTimeoutMs"] = _ALERTING_TIMEOUT_MS
    participant["attributes"] = {} if leg.purpose == "agent" else dict(conversation.attributes)
    participant[conversation.media.array] = [
        _notification_communication(conversation, org, leg, at)
    ]
    participant["additionalProperties"] = {}
    return participant


def _wrapup_fields(leg: Leg, at: float) -> dict[str, Any]:
    """Return the participant's wrap-up and after-call work fields, as of ``at``."""
    fields: dict[str, Any] = {
        "wrapupRequired": leg.purpose == "agent" and _before(leg.connected, at),
        "wrapupExpected": leg.purpose == "agent",
    }
    if leg.purpose == "agent":
        fields["wrapupPrompt"] = _WRAPUP_PROMPT
    _set_time(fields, "startAcwTime", leg.acw_start, at)
    if _before(leg.acw_end, at):
        assert leg.acw_start is not None
        assert leg.acw_end is not None
        fields["endAcwTime"] = iso(leg.acw_end)
        fields["wrapup"] = {
            "code": leg.wrapup_code,
            "notes": "",
            "tags": [],
            "durationSeconds": round(leg.acw_end - leg.acw_start),
            "endTime": iso(leg.acw_end),
            "additionalProperties": {},
        }
    return fields


def _after_call_work(leg: Leg, at: float) -> dict[str, Any] | None:
    if not _before(leg.acw_start, at):
        return None
    assert leg.acw_start is not None
    if _before(leg.acw_end, at):
        assert leg.acw_end is not None
        return {"state": "complete", "startTime": iso(leg.acw_start), "endTime": iso(leg.acw_end)}
    return {"state": "pending", "startTime": iso(leg.acw_start)}


def _notification_communication(
    conversation: Conversation, org: Org, leg: Leg, at: float
) -> dict[str, Any]:
    media = conversation.media
    hold_start = _held(leg, at)
    communication: dict[str, Any] = {
        "state": communication_state(leg, at),
        "initialState": _initial_state(conversation, leg),
        "id": leg.communication_id,
        "direction": "inbound",
        "held": hold_start is not None,
    }
    if hold_start is not None:
        communication["startHoldTime"] = iso(hold_start)
    if _before(leg.end, at):
        communication["disconnectType"] = leg.disconnect_type

    if media is VOICE:
        communication.update(_call_fields(conversation, leg, at))
    elif media is CALLBACK:
        communication.update(_callback_fields(conversation, org))
    elif media is CHAT:
        communication["roomId"] = f"{conversation.id}@conference.simulator.invalid"
    elif media is MESSAGE:
        communication.update(_message_fields(conversation))

    if leg.peer_id is not None:
        communication["peerId"] = leg.peer_id
    communication["provider"] = media.provider
    _set_time(communication, "connectedTime", leg.connected, at)
    _set_time(communication, "disconnectedTime", leg.end, at)
    after_call_work = _after_call_work(leg, at)
    if after_call_work is not None:
        communication["afterCallWork"] = after_call_work
    communication["afterCallWorkRequired"] = leg.purpose == "agent"
    communication["additionalProperties"] = {}
    return communication


def _call_fields(conversation: Conversation, leg: Leg, at: float) -> dict[str, Any]:
    customer = conversation.customer
    customer_name = customer.name or ""
    recording = conversation.recording and leg.purpose in ("customer", "agent")
    if leg.purpose == "customer":
        own, other = (
            _address(customer_name, conversation.customer_address),
            _address("", conversation.dnis),
        )
    else:
        own = _address(leg.name or "", conversation.dnis)
        other = _address(customer_name, conversation.customer_address)
    return {
        "muted": False,
        "confined": False,
        "recording": recording,
        "recordingState": "active" if recording and not _before(leg.end, at) else "none",
        "self": own,
        "other": other,
    }


def _callback_fields(conversation: Conversation, org: Org) -> dict[str, Any]:
    customer_name = conversation.customer.name or ""
    assert conversation.callback_scheduled is not None
    return {
        "callbackNumbers": [conversation.customer_address.removeprefix("tel:")],
        "callbackUserName": customer_name,
        "scriptId": org.script_id,
        "externalCampaign": False,
        "skipEnabled": True,
        "timeoutSeconds": 0,
        "callbackScheduledTime": iso(conversation.callback_scheduled),
        "callerIdName": customer_name,
    }


def _message_fields(conversation: Conversation) -> dict[str, Any]:
    sender = conversation.customer_address
    return {
        "type": conversation.message_type,
        "toAddress": {"name": "Simulated org", "addressNormalized": "+18005550100"},
        "fromAddress": {"name": conversation.customer.name or "", "addressNormalized": sender},
    }


# REST shape


def rest_conversation(conversation: Conversation, org: Org, at: float) -> dict[str, Any]:
    """Return ``GET /api/v2/conversations/{id}`` as Genesys would return it at ``at``."""
    body: dict[str, Any] = {
        "id": conversation.id,
        "startTime": iso(conversation.start),
    }
    if conversation.end <= at:
        body["endTime"] = iso(conversation.end)
    if conversation.media is VOICE:
        body["address"] = conversation.dnis
    body["participants"] = [
        _rest_participant(conversation, org, leg, at) for leg in _visible_legs(conversation, at)
    ]
    body["recordingState"] = _recording_state(conversation, at)
    body["divisions"] = [
        {
            "division": {
                "id": org.division_id,
                "selfUri": f"/api/v2/authorization/divisions/{org.division_id}",
            },
            "entities": [],
        }
    ]
    body["selfUri"] = f"/api/v2/conversations/{conversation.id}"
    return body


def _rest_participant(conversation: Conversation, org: Org, leg: Leg, at: float) -> dict[str, Any]:
    participant: dict[str, Any] = {"id": leg.participant_id, "startTime": iso(leg.start)}
    _set_time(participant, "endTime", leg.finish_time(), at)
    _set_time(participant, "connectedTime", leg.connected, at)
    if leg.name is not None:
        participant["name"] = leg.name

    # Who and where: a user reference and the queue name, where notifications have ids only.
    if leg.user_id is not None:
        user = org.user(leg.user_id)
        participant["user"] = {
            "id": user.id,
            "name": user.name,
            "selfUri": f"/api/v2/users/{user.id}",
        }
    queue_id = _queue_id(conversation, leg, at)
    if queue_id is not None:
        participant["queueId"] = queue_id
        participant["queueName"] = org.queue(queue_id).name
    participant["purpose"] = leg.purpose
    if leg.purpose == "customer" and conversation.customer_address:
        participant["address"] = conversation.customer_address
    if conversation.external_contact_id is not None and leg.purpose == "customer":
        participant["externalContactId"] = conversation.external_contact_id

    # Wrap-up as in REST: no wrapupExpected, and the code's name beside its id.
    wrapup_fields = _wrapup_fields(leg, at)
    wrapup_fields.pop("wrapupExpected")
    wrapup = wrapup_fields.pop("wrapup", None)
    participant.update(wrapup_fields)
    if wrapup is not None:
        wrapup.pop("additionalProperties")
        wrapup["name"] = org.wrapup_code(wrapup["code"]).name
        wrapup["provisional"] = False
        participant["wrapup"] = wrapup

    if leg.purpose == "agent":
        participant["alertingTimeoutMs"] = _ALERTING_TIMEOUT_MS
    participant["attributes"] = {} if leg.purpose == "agent" else dict(conversation.attributes)
    participant[conversation.media.array] = [_rest_communication(conversation, org, leg, at)]
    return participant


def _rest_communication(
    conversation: Conversation, org: Org, leg: Leg, at: float
) -> dict[str, Any]:
    communication = _notification_communication(conversation, org, leg, at)
    del communication["additionalProperties"]
    if conversation.media is VOICE:
        del communication["self"]
        del communication["other"]
        communication["ani"] = conversation.customer_address
        communication["dnis"] = conversation.dnis
    return communication


# Analytics shape


def analytics_record(conversation: Conversation, org: Org, at: float) -> dict[str, Any]:
    """Return the analytics conversation record as Genesys would return it at ``at``.

    Segments still going on at ``at`` have no ``segmentEnd``, and a metric
    appears only once what it measures is complete.
    """
    record: dict[str, Any] = {
        "conversationId": conversation.id,
        "conversationStart": iso(conversation.start),
    }
    ended = conversation.end <= at
    if ended:
        record["conversationEnd"] = iso(conversation.end)
        if conversation.media is VOICE:
            record["mediaStatsMinConversationMos"] = 4.88
            record["mediaStatsMinConversationRFactor"] = 92.46
    record["originatingDirection"] = "inbound"
    record["divisionIds"] = [org.division_id]
    record["participants"] = [
        _analytics_participant(conversation, org, leg, at)
        for leg in _visible_legs(conversation, at)
    ]
    return record


def _analytics_participant(
    conversation: Conversation, org: Org, leg: Leg, at: float
) -> dict[str, Any]:
    participant: dict[str, Any] = {"participantId": leg.participant_id}
    if leg.user_id is not None:
        participant["userId"] = leg.user_id
    elif leg.purpose == "acd" and leg.queue_id is not None:
        participant["participantName"] = org.queue(leg.queue_id).name
    elif leg.name is not None:
        participant["participantName"] = leg.name
    participant["purpose"] = leg.purpose
    participant["sessions"] = [_analytics_session(conversation, leg, at)]
    return participant


def _analytics_session(conversation: Conversation, leg: Leg, at: float) -> dict[str, Any]:
    media = conversation.media
    session: dict[str, Any] = {
        "mediaType": media.analytics,
        "sessionId": leg.communication_id,
        "direction": "inbound",
    }
    if leg.peer_id is not None:
        session["peerId"] = leg.peer_id
    if media is VOICE:
        session["ani"] = conversation.customer_address
        session["dnis"] = conversation.dnis
    session["segments"] = _segments(conversation, leg, at)
    session["metrics"] = _metrics(conversation, leg, at)
    session["provider"] = media.provider
    if leg.purpose != "customer":
        session["remote"] = conversation.customer.name or ""
    if leg.purpose in ("customer", "acd", "agent"):
        session["requestedRoutings"] = ["Standard"]
        answered = _answering_agent(conversation, at)
        if answered is not None:
            session["usedRouting"] = "Standard"
            session["selectedAgentId"] = answered
    return session


def _answering_agent(conversation: Conversation, at: float) -> str | None:
    for leg in conversation.legs:
        if leg.purpose == "agent" and _before(leg.connected, at):
            return leg.user_id
    return None


def _segment(
    start: float,
    end: float | None,
    at: float,
    segment_type: str,
    queue_id: str | None,
    disconnect_type: str | None = None,
) -> dict[str, Any]:
    segment: dict[str, Any] = {"segmentStart": iso(start)}
    if end is not None and end <= at:
        segment["segmentEnd"] = iso(end)
    if queue_id is not None:
        segment["queueId"] = queue_id
    if disconnect_type is not None and end is not None and end <= at:
        segment["disconnectType"] = disconnect_type
    segment["segmentType"] = segment_type
    segment["conference"] = False
    return segment


def _segments(conversation: Conversation, leg: Leg, at: float) -> list[dict[str, Any]]:
    if leg.purpose != "agent":
        segment_type = "ivr" if leg.purpose == "ivr" else "interact"
        return [_segment(leg.start, leg.end, at, segment_type, leg.queue_id, leg.disconnect_type)]

    queue_id = leg.queue_id
    if leg.connected is None:
        return [_segment(leg.start, leg.end, at, "alert", queue_id, leg.disconnect_type)]
    segments = [_segment(leg.start, leg.connected, at, "alert", queue_id)]
    if leg.connected > at:
        return segments

    # Talk is cut into interact and hold pieces; the last piece carries the disconnect type.
    pieces: list[tuple[float, float | None, str]] = []
    cursor = leg.connected
    for hold_start, hold_end in leg.holds:
        pieces.append((cursor, hold_start, "interact"))
        pieces.append((hold_start, hold_end, "hold"))
        cursor = hold_end
    pieces.append((cursor, leg.end, "interact"))
    for index, (start, end, segment_type) in enumerate(pieces):
        if start > at:
            break
        last = index == len(pieces) - 1
        disconnect_type = leg.disconnect_type if last else None
        segments.append(_segment(start, end, at, segment_type, queue_id, disconnect_type))

    if _before(leg.acw_start, at):
        assert leg.acw_start is not None
        wrapup = _segment(leg.acw_start, leg.acw_end, at, "wrapup", queue_id)
        if _before(leg.acw_end, at):
            wrapup["wrapUpCode"] = leg.wrapup_code
        segments.append(wrapup)
    return segments


def _metric(name: str, value: float, emitted: float) -> dict[str, Any]:
    return {"name": name, "value": round(value), "emitDate": iso(emitted)}


def _metrics(conversation: Conversation, leg: Leg, at: float) -> list[dict[str, Any]]:
    metrics: list[dict[str, Any]] = []
    ended = _before(leg.end, at)
    end = leg.end if leg.end is not None else at

    if leg.purpose == "customer":
        metrics.append(_metric("nConnected", 1, leg.start))
    elif leg.purpose == "acd":
        metrics.append(_metric("nOffered", 1, leg.start))
        if ended and leg.disconnect_type == "transfer":
            metrics.append(_metric("tAcd", (end - leg.start) * 1000, end))
        elif ended:
            metrics.append(_metric("tAbandon", (end - leg.start) * 1000, end))
    elif leg.purpose == "agent":
        metrics.extend(_agent_metrics(leg, at))
    return metrics


def _agent_metrics(leg: Leg, at: float) -> list[dict[str, Any]]:
    metrics: list[dict[str, Any]] = []
    if leg.connected is None:
        if _before(leg.end, at):
            assert leg.end is not None
            metrics.append(_metric("tAlert", (leg.end - leg.start) * 1000, leg.end))
            if leg.disconnect_type == "system":
                metrics.append(_metric("tNotResponding", (leg.end - leg.start) * 1000, leg.end))
        return metrics
    if leg.connected > at:
        return metrics

    alert_ms = (leg.connected - leg.start) * 1000
    metrics.append(_metric("tAlert", alert_ms, leg.connected))
    metrics.append(_metric("tAnswered", alert_ms, leg.connected))
    if not _before(leg.end, at):
        return metrics

    assert leg.end is not None
    held = sum(hold_end - hold_start for hold_start, hold_end in leg.holds)
    talk = leg.end - leg.connected - held
    metrics.append(_metric("tTalk", talk * 1000, leg.end))
    metrics.append(_metric("tTalkComplete", talk * 1000, leg.end))
    if leg.holds:
        metrics.append(_metric("tHeld", held * 1000, leg.end))
        metrics.append(_metric("tHeldComplete", held * 1000, leg.end))
    if leg.disconnect_type == "transfer":
        metrics.append(_metric("nTransferred", 1, leg.end))
    if _before(leg.acw_end, at):
        assert leg.acw_start is not None
        assert leg.acw_end is not None
        acw = leg.acw_end - leg.acw_start
        metrics.append(_metric("tAcw", acw * 1000, leg.acw_end))
        metrics.append(_metric("tHandle", (talk + held + acw) * 1000, leg.acw_end))
    return metrics


# Detail events


_DETAIL_KIND = {"customer": "customer", "ivr": "flow", "acd": "acd", "agent": "user"}


def detail_events(conversation: Conversation, org: Org) -> list[tuple[float, str, dict[str, Any]]]:
    """Return every detail event of the conversation as ``(time, kind, eventBody)``.

    ``kind`` is the topic suffix (``customer.start``, ``user.end``, ``acw``, ...).
    Enumerations are upper case, as in detail events (``VOICE``, ``INBOUND``,
    ``TRANSFER``).
    """
    events: list[tuple[float, str, dict[str, Any]]] = []
    for leg in conversation.legs:
        kind = _DETAIL_KIND[leg.purpose]
        events.append((leg.start, f"{kind}.start", _detail_body(conversation, org, leg, leg.start)))
        if leg.end is not None:
            body = _detail_body(conversation, org, leg, leg.end)
            body["disconnectType"] = (leg.disconnect_type or "other").upper()
            if leg.purpose == "agent":
                body.update(_agent_durations(leg))
            events.append((leg.end, f"{kind}.end", body))
        if leg.acw_end is not None:
            assert leg.acw_start is not None
            body = _detail_body(conversation, org, leg, leg.acw_end)
            body["wrapupCode"] = leg.wrapup_code
            body["acwDurationMs"] = epoch_ms(leg.acw_end - leg.acw_start)
            events.append((leg.acw_end, "acw", body))
            body = _detail_body(conversation, org, leg, leg.acw_end)
            body["wrapupCode"] = leg.wrapup_code
            body["wrapupNotes"] = ""
            body["wrapupDurationMs"] = epoch_ms(leg.acw_end - leg.acw_start)
            events.append((leg.acw_end, "wrapup", body))
    events.sort(key=lambda event: event[0])
    return events


def _agent_durations(leg: Leg) -> dict[str, int]:
    assert leg.end is not None
    if leg.connected is None:
        return {"alertingDurationMs": epoch_ms(leg.end - leg.start)}
    held = sum(hold_end - hold_start for hold_start, hold_end in leg.holds)
    return {
        "alertingDurationMs": epoch_ms(leg.connected - leg.start),
        "interactingDurationMs": epoch_ms(leg.end - leg.connected - held),
        "heldDurationMs": epoch_ms(held),
    }


def _detail_body(conversation: Conversation, org: Org, leg: Leg, at: float) -> dict[str, Any]:
    media = conversation.media
    body: dict[str, Any] = {
        "eventTime": epoch_ms(at),
        "conversationId": conversation.id,
        "participantId": leg.participant_id,
        "sessionId": leg.communication_id,
        "mediaType": media.detail,
        "provider": media.provider,
        "direction": "INBOUND",
    }
    if media in (VOICE, CALLBACK):
        body["ani"] = conversation.customer_address
        body["dnis"] = conversation.dnis
    else:
        body["addressFrom"] = conversation.customer_address or (conversation.customer.name or "")
        body["addressTo"] = conversation.dnis.removeprefix("tel:")
    if media is CALLBACK:
        assert conversation.callback_scheduled is not None
        body["callbackUserName"] = conversation.customer.name or ""
        body["callbackNumbers"] = [conversation.customer_address.removeprefix("tel:")]
        body["callbackScheduledTime"] = epoch_ms(conversation.callback_scheduled)
    if media is MESSAGE and conversation.message_type is not None:
        body["messageType"] = conversation.message_type.upper()
    if leg.user_id is not None:
        body["userId"] = leg.user_id
    if leg.queue_id is not None and leg.purpose != "customer":
        body["queueId"] = leg.queue_id
    if leg.purpose == "ivr":
        body["flowId"] = org.flow_id
    body["divisionId"] = org.division_id
    if conversation.external_contact_id is not None:
        if leg.purpose == "customer":
            body["externalContactId"] = conversation.external_contact_id
        body["conversationExternalContactIds"] = [conversation.external_contact_id]
    return body
