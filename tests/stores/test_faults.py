"""AWS trouble for 60 s of clock time, then recovery, on moto.

Moto never throttles, fails a batch entry or returns a 5xx, so those faults are
injected at the boto3 client boundary through botocore's event system.
``before-call`` handlers return a response in place of AWS, and
``before-parameter-build`` and ``after-call`` handlers take entries out of a
batch and report them failed. Everything else is the
real client talking to moto over HTTP. The stores write state with conditional
``PutItem`` only (``BatchWriteItem`` cannot be conditional), so there are no
``UnprocessedItems`` to retry.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import weakref
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from genesys_stream.clock import FakeClock
from stores.base import OutboundMessage, RevisionConflict, StateRecord
from stores.dynamodb import DynamoCheckpointStore, DynamoStateStore
from stores.errors import ConfigurationError, DeliveryError, StateWriteError, StoreError
from stores.retry import RetryPolicy
from stores.sqs import SqsEventQueue

OUTAGE = 60.0


def during_outage(clock: FakeClock) -> Callable[[], bool]:
    """Return a predicate that is true once the outage is over."""
    return lambda: clock.monotonic() >= OUTAGE


# DynamoDB


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ProvisionedThroughputExceededException", 400),
        ("ThrottlingException", 400),
        ("RequestLimitExceeded", 400),
        ("InternalServerError", 500),
    ],
)
def test_state_writes_ride_out_outage(
    dynamodb_client: Any, dynamodb_table: Callable[..., str], faults: Any, code: str, status: int
) -> None:
    clock = FakeClock()
    store = DynamoStateStore(dynamodb_client, dynamodb_table(), clock)
    faults.fail_calls(dynamodb_client, "dynamodb.PutItem", code, during_outage(clock), status)
    faults.fail_calls(dynamodb_client, "dynamodb.GetItem", code, during_outage(clock), status)
    faults.count(dynamodb_client, "dynamodb", "PutItem")
    truth = {f"c-{n}": n + 1 for n in range(5)}

    for conversation_id, revision in truth.items():
        store.save(StateRecord(conversation_id, revision, {"state": "active"}), None)
        store.save(StateRecord(conversation_id, revision + 1, {"state": "ended"}), revision)

    stored = {record.conversation_id: record.revision for record in store.list()}
    assert stored == {conversation_id: revision + 1 for conversation_id, revision in truth.items()}
    assert clock.monotonic() >= OUTAGE
    assert faults.calls["PutItem"] > 10


def test_state_write_gives_up_after_budget(
    dynamodb_client: Any, dynamodb_table: Callable[..., str], faults: Any
) -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_elapsed=30.0)
    store = DynamoStateStore(dynamodb_client, dynamodb_table(), clock, retry=policy)
    code = "ProvisionedThroughputExceededException"
    faults.fail_calls(dynamodb_client, "dynamodb.PutItem", code, lambda: False)

    with pytest.raises(StateWriteError, match=code) as raised:
        store.save(StateRecord("c-1", 1, {"state": "active"}), None)

    assert raised.value.conversation_id == "c-1"
    assert 0 < clock.monotonic() <= 30.0


def test_state_write_gives_up_after_attempts(
    dynamodb_client: Any, dynamodb_table: Callable[..., str], faults: Any
) -> None:
    clock = FakeClock()
    store = DynamoStateStore(
        dynamodb_client, dynamodb_table(), clock, retry=RetryPolicy(max_attempts=4)
    )
    faults.fail_calls(dynamodb_client, "dynamodb.PutItem", "ThrottlingException", lambda: False)
    faults.count(dynamodb_client, "dynamodb", "PutItem")

    with pytest.raises(StateWriteError):
        store.save(StateRecord("c-1", 1, {"state": "active"}), None)

    assert faults.calls["PutItem"] == 4


def test_state_read_gives_up_as_store_error(
    dynamodb_client: Any, dynamodb_table: Callable[..., str], faults: Any
) -> None:
    clock = FakeClock()
    store = DynamoStateStore(
        dynamodb_client, dynamodb_table(), clock, retry=RetryPolicy(max_attempts=3)
    )
    faults.fail_calls(
        dynamodb_client, "dynamodb.GetItem", "InternalServerError", lambda: False, 500
    )

    with pytest.raises(StoreError, match="get_item"):
        store.load("c-1")


def test_state_write_lost_response_is_success(
    dynamodb_client: Any, dynamodb_table: Callable[..., str]
) -> None:
    """A write that landed but whose response was lost is not a conflict when retried."""
    clock = FakeClock()
    store = DynamoStateStore(dynamodb_client, dynamodb_table(), clock)
    lost = {"count": 0}

    def lose_first_response(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        if lost["count"] == 0:
            lost["count"] += 1
            http_response.status_code = 500
            parsed["Error"] = {"Code": "InternalServerError", "Message": "Injected fault."}
            parsed["ResponseMetadata"]["HTTPStatusCode"] = 500

    dynamodb_client.meta.events.register("after-call.dynamodb.PutItem", lose_first_response)
    saved = StateRecord("c-1", 1, {"conversationId": "c-1", "revision": 1, "state": "active"})

    store.save(saved, expected_revision=None)

    assert lost["count"] == 1
    assert store.load("c-1") == saved


def test_conflict_uses_returned_item(
    dynamodb_client: Any, dynamodb_table: Callable[..., str], faults: Any
) -> None:
    """The stored record comes back with the conditional failure; no second read."""
    store = DynamoStateStore(dynamodb_client, dynamodb_table(), FakeClock())
    store.save(StateRecord("c-1", 5, {"state": "active"}), None)
    faults.count(dynamodb_client, "dynamodb", "GetItem")

    with pytest.raises(RevisionConflict, match="revision 5") as raised:
        store.save(StateRecord("c-1", 3, {"state": "ended"}), 2)

    assert raised.value.current == StateRecord(
        "c-1", 5, {"conversationId": "c-1", "revision": 5, "state": "active"}
    )
    assert faults.calls.get("GetItem", 0) == 0


def test_missing_table_is_configuration_error(dynamodb_client: Any) -> None:
    store = DynamoStateStore(dynamodb_client, "absent-table", FakeClock())

    with pytest.raises(ConfigurationError, match="absent-table"):
        store.save(StateRecord("c-1", 1, {"state": "active"}), None)


def test_checkpoint_rides_out_outage(
    dynamodb_client: Any, dynamodb_table: Callable[..., str], faults: Any
) -> None:
    clock = FakeClock()
    store = DynamoCheckpointStore(dynamodb_client, dynamodb_table(hash_key="pk"), clock)
    faults.fail_calls(
        dynamodb_client, "dynamodb.PutItem", "ThrottlingException", during_outage(clock)
    )

    store.put_checkpoint("stream", 1234.5)

    assert store.get_checkpoint("stream") == 1234.5
    assert clock.monotonic() >= OUTAGE


# SQS


def messages(count: int) -> list[OutboundMessage]:
    result = []
    for number in range(count):
        body = b'{"type":"conversation.updated","sequence":%d}' % number
        result.append(
            OutboundMessage(
                conversation_id=f"c-{number % 7}",
                event_type="conversation.updated",
                body=body,
                deduplication_id=hashlib.sha256(body).hexdigest(),
                attributes={"type": "conversation.updated"},
            )
        )
    return result


@pytest.mark.parametrize("fifo", [True, False])
def test_queue_rides_out_partial_failures(
    fifo: bool,
    sqs_client: Any,
    sqs_queue: Callable[..., str],
    faults: Any,
    receive: Callable[[Any, str], list[Any]],
) -> None:
    """For 60 s a third of the entries fail and every third call is throttled; all arrive once."""
    clock = FakeClock()
    url = sqs_queue(fifo=fifo)
    queue = SqsEventQueue(sqs_client, url, clock)
    tick = itertools.count(1)
    faults.fail_entries(
        sqs_client,
        lambda _, entry: orjson.loads(entry["MessageBody"])["sequence"] % 3 == 0,
        during_outage(clock),
    )
    faults.fail_calls(
        sqs_client,
        "sqs.SendMessageBatch",
        "ThrottlingException",
        lambda: clock.monotonic() >= OUTAGE or next(tick) % 3 != 0,
    )
    faults.watch_batches(sqs_client)
    sent = messages(40)

    queue.send(sent)

    delivered = receive(sqs_client, url)
    accepted = Counter(faults.accepted)
    assert clock.monotonic() >= OUTAGE
    assert len(faults.sent) > 20
    assert sorted(accepted) == sorted(m.body.decode() for m in sent)
    assert set(accepted.values()) == {1}
    assert sorted(d.body for d in delivered) == sorted(m.body.decode() for m in sent)


def test_queue_poison_entry_never_blocks(
    sqs_client: Any,
    sqs_queue: Callable[..., str],
    faults: Any,
    receive: Callable[[Any, str], list[Any]],
) -> None:
    """An entry SQS fails as the sender's fault is reported at once, not retried."""
    clock = FakeClock()
    url = sqs_queue()
    queue = SqsEventQueue(sqs_client, url, clock)
    sent = messages(25)
    poison = sent[13]
    poison_body = poison.body.decode()
    faults.fail_entries(
        sqs_client,
        lambda _, entry: entry["MessageBody"] == poison_body,
        lambda: False,
        sender_fault=True,
    )

    with pytest.raises(DeliveryError) as raised:
        queue.send(sent)

    delivered = sorted(d.body for d in receive(sqs_client, url))
    assert raised.value.failed == [poison]
    assert raised.value.permanent == [poison]
    assert "InvalidParameterValue" in raised.value.reasons[poison.deduplication_id]
    assert delivered == sorted(m.body.decode() for m in sent if m is not poison)
    assert clock.monotonic() == 0


def test_queue_isolates_entry_failing_whole_batch(
    sqs_client: Any,
    sqs_queue: Callable[..., str],
    receive: Callable[[Any, str], list[Any]],
) -> None:
    """A request SQS rejects outright is split, so only the bad entry fails."""
    clock = FakeClock()
    url = sqs_queue()
    queue = SqsEventQueue(sqs_client, url, clock)
    sent = messages(10)
    poison_body = sent[4].body.decode()

    def mark(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["poisoned"] = any(e["MessageBody"] == poison_body for e in params["Entries"])

    def reject(context: dict[str, Any], **_: Any) -> Any:
        if context.get("poisoned"):
            from botocore.awsrequest import AWSResponse

            return AWSResponse("http://127.0.0.1/injected", 400, {}, None), {
                "Error": {"Code": "InvalidParameterValue", "Message": "Injected fault."},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
        return None

    sqs_client.meta.events.register("before-parameter-build.sqs.SendMessageBatch", mark)
    sqs_client.meta.events.register("before-call.sqs.SendMessageBatch", reject)

    with pytest.raises(DeliveryError) as raised:
        queue.send(sent)

    assert raised.value.permanent == [sent[4]]
    assert len(receive(sqs_client, url)) == 9


def test_queue_gives_up_after_budget(
    sqs_client: Any, sqs_queue: Callable[..., str], faults: Any
) -> None:
    clock = FakeClock()
    queue = SqsEventQueue(sqs_client, sqs_queue(), clock, retry=RetryPolicy(max_elapsed=90.0))
    faults.fail_calls(sqs_client, "sqs.SendMessageBatch", "ThrottlingException", lambda: False)
    sent = messages(15)

    with pytest.raises(DeliveryError) as raised:
        queue.send(sent)

    assert raised.value.failed == sent
    assert raised.value.permanent == []
    assert raised.value.reasons[sent[0].deduplication_id] == "ThrottlingException"
    assert OUTAGE < clock.monotonic() <= 90.0


def test_queue_retains_nothing_after_giving_up(
    sqs_client: Any, sqs_queue: Callable[..., str], faults: Any
) -> None:
    """Memory stays bounded: once DeliveryError is dropped, no message is referenced."""
    clock = FakeClock()
    queue = SqsEventQueue(sqs_client, sqs_queue(), clock, retry=RetryPolicy(max_elapsed=10.0))
    faults.fail_calls(sqs_client, "sqs.SendMessageBatch", "ThrottlingException", lambda: False)
    sent = messages(30)
    references = [weakref.ref(message) for message in sent]

    with pytest.raises(DeliveryError) as raised:
        queue.send(sent)
    failed = len(raised.value.failed)
    del raised, sent
    gc.collect()

    assert failed == 30
    assert all(reference() is None for reference in references)


def test_queue_connection_errors_retried(
    sqs_client: Any, sqs_queue: Callable[..., str], receive: Callable[[Any, str], list[Any]]
) -> None:
    from botocore.exceptions import EndpointConnectionError

    clock = FakeClock()
    url = sqs_queue()
    queue = SqsEventQueue(sqs_client, url, clock)
    failures = itertools.count()

    def drop_connection(**_: Any) -> None:
        if next(failures) < 3:
            raise EndpointConnectionError(endpoint_url=url)

    sqs_client.meta.events.register("before-call.sqs.SendMessageBatch", drop_connection)

    queue.send(messages(3))

    assert len(receive(sqs_client, url)) == 3
    assert clock.monotonic() > 0
