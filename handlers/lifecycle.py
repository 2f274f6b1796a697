"""Lifecycle events, derived by comparing a conversation before and after a merge.

Each merge that changes a conversation yields exactly one conversation event,
and one participant event per participant that appeared or stopped being
active:

- ``conversation.started``: the conversation was not known before, or it had
  ended and a new active leg re-opened it.
- ``conversation.ended``: it was active and no participant is active now.
- ``conversation.updated``: any other change.
- ``participant.joined``: a participant id seen for the first time.
- ``participant.left``: a participant that was active (or new) is not active now.

An agent leaving (``user.end``, a transfer) is a ``participant.left``, and the
conversation ends only when no participant keeps it open.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.state import ACTIVE, ENDED, ConversationState, active_participants

CONVERSATION_STARTED = "conversation.started"
CONVERSATION_UPDATED = "conversation.updated"
CONVERSATION_ENDED = "conversation.ended"
PARTICIPANT_JOINED = "participant.joined"
PARTICIPANT_LEFT = "participant.left"

EVENT_TYPES: tuple[str, ...] = (
    CONVERSATION_STARTED,
    CONVERSATION_UPDATED,
    CONVERSATION_ENDED,
    PARTICIPANT_JOINED,
    PARTICIPANT_LEFT,
)
LIFECYCLE_EVENT_TYPES = frozenset(EVENT_TYPES)


class ForwardFilterError(ValueError):
    """A forward filter that names no event type or an unknown one."""


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """One lifecycle event of one conversation, with ``participant_id`` for participant events."""

    type: str
    conversation_id: str
    participant_id: str | None = None


def diff_events(old: ConversationState | None, new: ConversationState) -> list[LifecycleEvent]:
    """Return the lifecycle events that lead from ``old`` to ``new``.

    Call it only when the content changed. The conversation event comes first,
    then participant events in participant id order.
    """
    conversation_id = new.conversation_id
    old_active = active_participants(old) if old is not None else frozenset()
    new_active = active_participants(new)
    old_state = None if old is None else _status(old, old_active)
    new_state = _status(new, new_active)

    if old_state is None or (old_state == ENDED and new_state == ACTIVE):
        kind = CONVERSATION_STARTED
    elif old_state == ACTIVE and new_state == ENDED:
        kind = CONVERSATION_ENDED
    else:
        kind = CONVERSATION_UPDATED
    events = [LifecycleEvent(kind, conversation_id)]

    known = old.participants if old is not None else {}
    for participant_id in sorted(new.participants):
        is_new = participant_id not in known
        if is_new:
            events.append(LifecycleEvent(PARTICIPANT_JOINED, conversation_id, participant_id))
        was_active = is_new or participant_id in old_active
        if was_active and participant_id not in new_active:
            events.append(LifecycleEvent(PARTICIPANT_LEFT, conversation_id, participant_id))

    if old_state is None and new_state == ENDED:
        # First seen already over (a back-fill): report both ends.
        events.insert(1, LifecycleEvent(CONVERSATION_ENDED, conversation_id))
    return events


def _status(state: ConversationState, active: frozenset[str]) -> str:
    # The same rule as ``handlers.state.conversation_state``, reusing ``active``.
    if not state.participants:
        return ENDED if "endTime" in state.times else ACTIVE
    return ACTIVE if active else ENDED


def parse_forward_filter(text: str) -> frozenset[str]:
    """Parse a comma-separated list of lifecycle event types, with no spaces.

    Raises ForwardFilterError naming the first invalid entry and listing the
    valid types. An empty list is an error rather than "forward nothing".
    """
    valid = ", ".join(EVENT_TYPES)
    if not text:
        raise ForwardFilterError(
            f"Invalid forward filter: it is empty. Name one or more of: {valid}."
        )
    selected: set[str] = set()
    for entry in text.split(","):
        if entry not in EVENT_TYPES:
            raise ForwardFilterError(
                f"Invalid forward filter entry {entry!r} in {text!r}: "
                f"use a comma-separated list, without spaces, of: {valid}."
            )
        selected.add(entry)
    return frozenset(selected)
