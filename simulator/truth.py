"""The ground truth of a simulated org: what every conversation really is, at any time.

Tests compare the service's store with it, and the simulator's REST endpoints
serve it. Every result is derived from the same conversation timelines that
produced the emitted frames, so the snapshot for time ``at`` equals the last
frame of that conversation whose change happened at or before ``at``.
"""

from __future__ import annotations

from typing import Any

from simulator import shapes
from simulator.conversations import Conversation, Org


class Truth:
    """Conversations and org configuration of one generated scenario."""

    def __init__(self, org: Org, conversations: list[Conversation]) -> None:
        self._org = org
        self._conversations = {conversation.id: conversation for conversation in conversations}
        self._ordered = sorted(conversations, key=lambda conversation: conversation.start)

    # Conversations

    def conversation_ids(self) -> list[str]:
        """Return every conversation id, in order of start time."""
        return [conversation.id for conversation in self._ordered]

    def conversation(self, conversation_id: str) -> Conversation:
        """Return the timeline of one conversation; raise KeyError for an unknown id."""
        try:
            return self._conversations[conversation_id]
        except KeyError:
            raise KeyError(
                f"Conversation {conversation_id} is not in this scenario's truth."
            ) from None

    def start_time(self, conversation_id: str) -> float:
        return self.conversation(conversation_id).start

    def end_time(self, conversation_id: str) -> float:
        """Return when the conversation ends: its last leg and after-call work are done."""
        return self.conversation(conversation_id).end

    def state_at(self, conversation_id: str, at: float) -> str | None:
        """Return ``"active"`` or ``"ended"`` as of ``at``, or None before the start."""
        conversation = self.conversation(conversation_id)
        if at < conversation.start:
            return None
        return "ended" if conversation.end <= at else "active"

    def active_at(self, at: float) -> list[str]:
        """Return the ids of conversations started and not yet ended at ``at``."""
        return [
            conversation.id
            for conversation in self._ordered
            if conversation.start <= at < conversation.end
        ]

    def final_snapshot(self, conversation_id: str) -> dict[str, Any]:
        """Return the notification ``eventBody`` of the conversation's last state."""
        conversation = self.conversation(conversation_id)
        return shapes.notification_body(conversation, self._org, conversation.end)

    def snapshot_at(self, conversation_id: str, at: float) -> dict[str, Any] | None:
        """Return the notification ``eventBody`` as of ``at``, or None before the start."""
        conversation = self.conversation(conversation_id)
        if at < conversation.start:
            return None
        return shapes.notification_body(conversation, self._org, at)

    def rest_conversation(self, conversation_id: str, at: float) -> dict[str, Any] | None:
        """Return ``GET /api/v2/conversations/{id}`` as of ``at``; None (a 404) before the start."""
        conversation = self._conversations.get(conversation_id)
        if conversation is None or at < conversation.start:
            return None
        return shapes.rest_conversation(conversation, self._org, at)

    def analytics_query(self, start: float, end: float, at: float) -> list[dict[str, Any]]:
        """Return analytics records of conversations active in ``[start, end)``, as known at ``at``.

        A conversation counts when it started before ``end`` (and by ``at``) and
        had not ended before ``start``. Records are in order of start time.
        """
        records = []
        for conversation in self._ordered:
            if conversation.start >= end or conversation.start > at:
                continue
            if conversation.end < start and conversation.end <= at:
                continue
            records.append(shapes.analytics_record(conversation, self._org, at))
        return records

    # Org

    def queues(self) -> list[dict[str, Any]]:
        """Return the queues as ``GET /api/v2/routing/queues`` entities."""
        division = self._division()
        return [
            {
                "id": queue.id,
                "name": queue.name,
                "division": division,
                "memberCount": len(self._org.users),
                "mediaSettings": {},
                "selfUri": f"/api/v2/routing/queues/{queue.id}",
            }
            for queue in self._org.queues
        ]

    def users(self) -> list[dict[str, Any]]:
        """Return the agents as ``GET /api/v2/users`` entities."""
        division = self._division()
        return [
            {
                "id": user.id,
                "name": user.name,
                "division": division,
                "email": user.email,
                "state": "active",
                "username": user.email,
                "selfUri": f"/api/v2/users/{user.id}",
            }
            for user in self._org.users
        ]

    def queue_topics(self) -> list[str]:
        """Return ``v2.routing.queues.<id>.conversations`` for every queue."""
        return [f"v2.routing.queues.{queue.id}.conversations" for queue in self._org.queues]

    def user_topics(self) -> list[str]:
        """Return ``v2.users.<id>.conversations`` for every agent."""
        return [f"v2.users.{user.id}.conversations" for user in self._org.users]

    def _division(self) -> dict[str, Any]:
        division_id = self._org.division_id
        return {
            "id": division_id,
            "name": "Home",
            "selfUri": f"/api/v2/authorization/divisions/{division_id}",
        }
