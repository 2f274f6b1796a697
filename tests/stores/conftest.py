"""Store fixtures: each contract runs against the local store and against AWS on moto.

Faults the emulator cannot produce (throttling, 5xx, failed batch entries) are
injected at the boto3 client boundary through botocore's event system, so the
store under test runs its real code path against a real client.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from genesys_stream.clock import FakeClock
from stores.base import CheckpointStore, EventQueue, OutboundMessage, StateStore
from stores.dynamodb import DynamoCheckpointStore, DynamoStateStore
from stores.local import LocalCheckpointStore, LocalEventQueue, LocalStateStore, read_events
from stores.sqs import SqsEventQueue


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["local", "dynamodb"])
def state_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[StateStore]:
    """A state store of each kind, empty."""
    if request.param == "local":
        store = LocalStateStore(tmp_path / "state.db")
        yield store
        store.close()
    else:
        client = request.getfixturevalue("dynamodb_client")
        table = request.getfixturevalue("dynamodb_table")(ttl_attribute="expiresAt")
        yield DynamoStateStore(client, table, clock)


@pytest.fixture(params=["local", "dynamodb"])
def checkpoint_store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[CheckpointStore]:
    """A checkpoint store of each kind, empty."""
    if request.param == "local":
        store = LocalCheckpointStore(tmp_path / "state.db")
        yield store
        store.close()
    else:
        client = request.getfixturevalue("dynamodb_client")
        table = request.getfixturevalue("dynamodb_table")(hash_key="pk")
        yield DynamoCheckpointStore(client, table, clock)


@dataclass
class QueueUnderTest:
    """An event queue and a way to read back what it delivered."""

    queue: EventQueue
    delivered: Callable[[], list[Delivered]]
    deduplicates: bool


@dataclass(frozen=True)
class Delivered:
    """One delivered message as a consumer receives it."""

    body: str
    group_id: str | None
    deduplication_id: str | None
    attributes: dict[str, str]


@pytest.fixture(params=["local", "sqs-fifo", "sqs-standard"])
def event_queue(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[QueueUnderTest]:
    """An event queue of each kind, empty."""
    if request.param == "local":
        path = tmp_path / "events.jsonl"
        local = LocalEventQueue(path, clock)

        def read_local() -> list[Delivered]:
            return [
                Delivered(
                    line["body"],
                    line["messageGroupId"],
                    line["messageDeduplicationId"],
                    line["attributes"],
                )
                for line in read_events(path)
            ]

        yield QueueUnderTest(local, read_local, deduplicates=True)
        local.close()
    else:
        client = request.getfixturevalue("sqs_client")
        fifo = request.param == "sqs-fifo"
        url = request.getfixturevalue("sqs_queue")(fifo=fifo)
        queue = SqsEventQueue(client, url, clock)
        yield QueueUnderTest(queue, lambda: receive_all(client, url), deduplicates=fifo)


def receive_all(client: Any, url: str) -> list[Delivered]:
    """Receive and delete every message on the queue."""
    delivered: list[Delivered] = []
    while True:
        response = client.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return delivered
        for message in messages:
            system = message.get("Attributes", {})
            delivered.append(
                Delivered(
                    message["Body"],
                    system.get("MessageGroupId"),
                    system.get("MessageDeduplicationId"),
                    {
                        name: value["StringValue"]
                        for name, value in message.get("MessageAttributes", {}).items()
                    },
                )
            )
        client.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(position), "ReceiptHandle": message["ReceiptHandle"]}
                for position, message in enumerate(messages)
            ],
        )


def outbound(conversation_id: str, sequence: int, body: bytes | None = None) -> OutboundMessage:
    """Return a small forwarded event with a deduplication id derived from its body."""
    if body is None:
        body = (
            b'{"schema":"test/1","type":"conversation.updated","conversationId":"'
            + conversation_id.encode()
            + b'","sequence":'
            + str(sequence).encode()
            + b"}"
        )
    return OutboundMessage(
        conversation_id=conversation_id,
        event_type="conversation.updated",
        body=body,
        deduplication_id=hashlib.sha256(body).hexdigest(),
        attributes={"type": "conversation.updated", "conversationId": conversation_id},
    )


@pytest.fixture
def make_outbound() -> Callable[..., OutboundMessage]:
    return outbound


@pytest.fixture
def receive() -> Callable[[Any, str], list[Delivered]]:
    return receive_all


def fake_error(code: str, status: int = 400) -> tuple[AWSResponse, dict[str, Any]]:
    """Return a response botocore turns into a ``ClientError`` with ``code``."""
    return AWSResponse("http://127.0.0.1/injected", status, {}, None), {
        "Error": {"Code": code, "Message": "Injected fault."},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


@dataclass
class Faults:
    """Faults injected into boto3 clients through botocore's event system.

    ``sent`` records the entries of every ``SendMessageBatch`` request in the
    order they left the client; ``accepted`` the bodies SQS reported successful.
    """

    sent: list[list[dict[str, Any]]] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)

    def count(self, client: Any, service: str, operation: str) -> None:
        """Count the ``operation`` calls of ``client`` in ``calls``."""

        def counted(**_: Any) -> None:
            self.calls[operation] = self.calls.get(operation, 0) + 1

        # First, because the first handler that returns a response stops the others.
        client.meta.events.register_first(f"before-call.{service}.{operation}", counted)

    def fail_calls(
        self,
        client: Any,
        event: str,
        code: str,
        until: Callable[[], bool],
        status: int = 400,
    ) -> None:
        """Fail every ``event`` call (``service.Operation``) with ``code`` until ``until()``."""

        def failing(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
            return None if until() else fake_error(code, status)

        client.meta.events.register(f"before-call.{event}", failing)

    def watch_batches(self, client: Any) -> None:
        """Record what each ``SendMessageBatch`` sent and what SQS accepted."""

        def record(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            self.sent.append([dict(entry) for entry in params["Entries"]])
            context["bodies"] = {entry["Id"]: entry["MessageBody"] for entry in params["Entries"]}

        def accepted(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            bodies = context.get("bodies", {})
            self.accepted.extend(bodies[success["Id"]] for success in parsed.get("Successful", []))

        # Registered last, so it records the request after fail_entries took entries out.
        client.meta.events.register_last("before-parameter-build.sqs.SendMessageBatch", record)
        # Registered last, so it runs after fail_entries added its failures.
        client.meta.events.register_last("after-call.sqs.SendMessageBatch", accepted)

    def fail_entries(
        self,
        client: Any,
        choose: Callable[[int, dict[str, Any]], bool],
        until: Callable[[], bool],
        sender_fault: bool = False,
    ) -> None:
        """Fail the batch entries that ``choose(position, entry)`` picks, until ``until()``.

        Chosen entries are taken out of the request before it is sent, so SQS never
        sees them, and reported back in ``Failed`` as SQS does for a partial failure.
        When every entry is chosen, no request is sent and all come back failed.
        """

        def failure(entry_id: str) -> dict[str, Any]:
            return {
                "Id": entry_id,
                "SenderFault": sender_fault,
                "Code": "InvalidParameterValue" if sender_fault else "InternalError",
                "Message": "Injected fault.",
            }

        def take_out(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            if until():
                return
            entries = params["Entries"]
            chosen = [entry for position, entry in enumerate(entries) if choose(position, entry)]
            if len(chosen) == len(entries):
                # SQS rejects an empty request, so this one gets a response without sending.
                context["all_failed"] = [entry["Id"] for entry in entries]
                return
            params["Entries"] = [entry for entry in entries if entry not in chosen]
            context["injected"] = [entry["Id"] for entry in chosen]

        def answer_all_failed(context: dict[str, Any], **_: Any) -> Any:
            if "all_failed" not in context:
                return None
            parsed = {
                "Successful": [],
                "Failed": [failure(entry_id) for entry_id in context.pop("all_failed")],
                "ResponseMetadata": {"HTTPStatusCode": 200},
            }
            return AWSResponse("http://127.0.0.1/injected", 200, {}, None), parsed

        def report(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            for entry_id in context.pop("injected", []):
                parsed.setdefault("Failed", []).append(failure(entry_id))

        client.meta.events.register("before-parameter-build.sqs.SendMessageBatch", take_out)
        client.meta.events.register("before-call.sqs.SendMessageBatch", answer_all_failed)
        client.meta.events.register_first("after-call.sqs.SendMessageBatch", report)


@pytest.fixture
def faults() -> Faults:
    return Faults()
