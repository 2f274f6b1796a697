"""Comparison of stored conversation states with the simulator's ground truth.

Both sides go through the same normalization and ``project``: the truth's
final snapshot is merged on its own, the stored item is decoded, and the two
canonical views must be equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from handlers.merge import merge, project
from handlers.normalize import from_snapshot
from handlers.records import decode_state
from stores.base import StateStore


class FinalSnapshots(Protocol):
    def final_snapshot(self, conversation_id: str) -> dict[str, Any]: ...


@dataclass
class Comparison:
    """The result of a comparison: conversations that match, differ, or are missing."""

    matched: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.matched) + len(self.differing) + len(self.missing)

    @property
    def all_match(self) -> bool:
        return not self.differing and not self.missing


def truth_view(truth: FinalSnapshots, conversation_id: str) -> dict[str, Any]:
    """Return the canonical view of a conversation's true final state."""
    snapshot = truth.final_snapshot(conversation_id)
    return project(merge(None, from_snapshot(snapshot, 0.0)).state)


def stored_view(store: StateStore, conversation_id: str) -> dict[str, Any] | None:
    """Return the canonical view of a stored conversation, or None if absent."""
    record = store.load(conversation_id)
    return None if record is None else project(decode_state(record))


def compare(
    truth: FinalSnapshots, store: StateStore, conversation_ids: Iterable[str]
) -> Comparison:
    """Compare every listed conversation's stored state with its truth.

    One listing of the store fetches most records at once (a Scan on DynamoDB
    instead of one GetItem per conversation); a conversation the listing did
    not return is loaded on its own.
    """
    wanted = list(dict.fromkeys(conversation_ids))
    listed = {record.conversation_id: record for record in store.list(limit=len(wanted))}
    result = Comparison()
    for conversation_id in wanted:
        record = listed.get(conversation_id) or store.load(conversation_id)
        if record is None:
            result.missing.append(conversation_id)
        elif project(decode_state(record)) == truth_view(truth, conversation_id):
            result.matched.append(conversation_id)
        else:
            result.differing.append(conversation_id)
    return result
