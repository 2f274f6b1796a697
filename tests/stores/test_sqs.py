"""SqsEventQueue against moto: batching, limits, validation, FIFO and standard queues."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from genesys_stream.clock import FakeClock
from stores.base import OutboundMessage
from stores.errors import ConfigurationError, DeliveryError
from stores.messages import attributes_size
from stores.sqs import SqsEventQueue


def batch_bytes(entries: list[dict[str, Any]]) -> int:
    """Return what SQS counts for a batch: every body and every attribute."""
    return sum(
        len(entry["MessageBody"].encode())
        + attributes_size(
            {
                name: value["StringValue"]
                for name, value in entry.get("MessageAttributes", {}).items()
            }
        )
        for entry in entries
    )


def padded(
    make_outbound: Callable[..., OutboundMessage], number: int, size: int
) -> OutboundMessage:
    body = b'{"sequence":%d,"padding":"%s"}' % (number, b"x" * size)
    return make_outbound(f"c-{number % 4}", number, body=body)


def test_batches_of_ten(
    sqs_client: Any,
    sqs_queue: Callable[..., str],
    faults: Any,
    make_outbound: Callable[..., OutboundMessage],
    receive: Callable[[Any, str], list[Any]],
) -> None:
    url = sqs_queue()
    faults.watch_batches(sqs_client)
    queue = SqsEventQueue(sqs_client, url, FakeClock())

    queue.send([make_outbound(f"c-{n % 5}", n) for n in range(25)])

    assert [len(batch) for batch in faults.sent] == [10, 10, 5]
    for batch in faults.sent:
        assert len({entry["Id"] for entry in batch}) == len(batch)
    assert len(receive(sqs_client, url)) == 25


def test_batches_split_at_queue_size(
    sqs_client: Any,
    sqs_queue: Callable[..., str],
    faults: Any,
    make_outbound: Callable[..., OutboundMessage],
    receive: Callable[[Any, str], list[Any]],
) -> None:
    url = sqs_queue(maximum_message_size=4096)
    faults.watch_batches(sqs_client)
    queue = SqsEventQueue(sqs_client, url, FakeClock())

    queue.send([padded(make_outbound, n, 1400) for n in range(9)])

    assert [len(batch) for batch in faults.sent] == [2, 2, 2, 2, 1]
    assert all(batch_bytes(batch) <= 4096 for batch in faults.sent)
    assert len(receive(sqs_client, url)) == 9


def test_batches_split_at_one_mebibyte(
    sqs_client: Any,
    sqs_queue: Callable[..., str],
    faults: Any,
    make_outbound: Callable[..., OutboundMessage],
    receive: Callable[[Any, str], list[Any]],
) -> None:
    """Moto rejects a batch over 1 MiB, so an overfull batch would fail here."""
    url = sqs_queue(fifo=False)
    faults.watch_batches(sqs_client)
    queue = SqsEventQueue(sqs_client, url, FakeClock())

    queue.send([padded(make_outbound, n, 200_000) for n in range(10)])

    assert queue.maximum_message_size == 1_048_576
    assert [len(batch) for batch in faults.sent] == [5, 5]
    assert all(batch_bytes(batch) <= 1_048_576 for batch in faults.sent)
    assert len(receive(sqs_client, url)) == 10


def test_attributes_count_toward_size(
    sqs_client: Any,
    sqs_queue: Callable[..., str],
    s3_client: Any,
    s3_bucket: Callable[[], str],
    make_outbound: Callable[..., OutboundMessage],
    receive: Callable[[Any, str], list[Any]],
) -> None:
    """A body that fits alone but not with its attributes goes through S3."""
    from stores.s3 import S3PayloadStore

    clock = FakeClock()
    url = sqs_queue(maximum_message_size=2048)
    queue = SqsEventQueue(sqs_client, url, clock, S3PayloadStore(s3_client, s3_bucket(), clock))
    message = padded(make_outbound, 1, 2000)
    assert len(message.body) <= 2048 < len(message.body) + attributes_size(message.attributes)

    queue.send([message])

    (delivered,) = receive(sqs_client, url)
    assert '"s3Key"' in delivered.body


def test_standard_queue_sends_no_fifo_ids(
    sqs_client: Any,
    sqs_queue: Callable[..., str],
    faults: Any,
    make_outbound: Callable[..., OutboundMessage],
) -> None:
    faults.watch_batches(sqs_client)
    queue = SqsEventQueue(sqs_client, sqs_queue(fifo=False), FakeClock())

    queue.send([make_outbound("c-1", 1)])

    (entry,) = faults.sent[0]
    assert queue.fifo is False
    assert "MessageGroupId" not in entry
    assert "MessageDeduplicationId" not in entry


def test_fifo_queue_sends_fifo_ids(
    sqs_client: Any,
    sqs_queue: Callable[..., str],
    faults: Any,
    make_outbound: Callable[..., OutboundMessage],
) -> None:
    faults.watch_batches(sqs_client)
    queue = SqsEventQueue(sqs_client, sqs_queue(), FakeClock())
    message = make_outbound("c-1", 1)

    queue.send([message])

    (entry,) = faults.sent[0]
    assert queue.fifo is True
    assert entry["MessageGroupId"] == "c-1"
    assert entry["MessageDeduplicationId"] == message.deduplication_id


def test_empty_send_calls_nothing(
    sqs_client: Any, sqs_queue: Callable[..., str], faults: Any
) -> None:
    faults.watch_batches(sqs_client)
    queue = SqsEventQueue(sqs_client, sqs_queue(), FakeClock())

    queue.send([])

    assert faults.sent == []


def test_missing_queue_is_configuration_error(sqs_client: Any, aws_endpoint: str) -> None:
    url = f"{aws_endpoint}/123456789012/absent.fifo"

    with pytest.raises(ConfigurationError, match=r"absent\.fifo"):
        SqsEventQueue(sqs_client, url, FakeClock())


@pytest.mark.parametrize("size", [0, 1023, 1_048_577])
def test_invalid_maximum_size_rejected(sqs_client: Any, size: int) -> None:
    with pytest.raises(ConfigurationError, match=str(size)):
        SqsEventQueue(sqs_client, "https://sqs.example/1/q", FakeClock(), maximum_message_size=size)


def test_invalid_queue_url_rejected(sqs_client: Any) -> None:
    with pytest.raises(ConfigurationError, match="queue-name"):
        SqsEventQueue(sqs_client, "queue-name", FakeClock())


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ({f"a{n}": "v" for n in range(11)}, "11 attributes"),
        ({"AWS.type": "v"}, "AWS.type"),
        ({"bad name": "v"}, "bad name"),
        ({"empty": ""}, "empty"),
        ({"type": "nul \x00"}, "U+0000"),
    ],
)
def test_invalid_attributes_rejected(
    sqs_client: Any,
    sqs_queue: Callable[..., str],
    make_outbound: Callable[..., OutboundMessage],
    attributes: dict[str, str],
    reason: str,
) -> None:
    queue = SqsEventQueue(sqs_client, sqs_queue(), FakeClock())
    base = make_outbound("c-1", 1)
    message = OutboundMessage(
        base.conversation_id, base.event_type, base.body, base.deduplication_id, attributes
    )

    with pytest.raises(DeliveryError) as raised:
        queue.send([message])

    assert raised.value.permanent == [message]
    assert reason in raised.value.reasons[message.deduplication_id]


def test_invalid_deduplication_id_rejected(
    sqs_client: Any, sqs_queue: Callable[..., str], make_outbound: Callable[..., OutboundMessage]
) -> None:
    queue = SqsEventQueue(sqs_client, sqs_queue(), FakeClock())
    base = make_outbound("c-1", 1)
    message = OutboundMessage(base.conversation_id, base.event_type, base.body, "d" * 129)

    with pytest.raises(DeliveryError) as raised:
        queue.send([message])

    assert "MessageDeduplicationId" in raised.value.reasons["d" * 129]
