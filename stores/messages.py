"""SQS message rules, checked before sending: characters, sizes, ids, and the S3 pointer.

Moto 5 accepts bodies that SQS rejects (a NUL, for one), so the rules are
enforced here, from the SQS API reference (``SendMessage``,
``SendMessageBatch``, message attributes):

- A body is at least one character long.
- A body or string attribute value may contain only ``#x9 | #xA | #xD |
  #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF``: no NUL or other control
  characters, no unpaired surrogates. SQS rejects other characters with
  ``InvalidMessageContents`` (earlier editions of the reference say it replaces
  them with U+FFFD instead), so either way the message would not arrive as sent.
- A message is its body plus each attribute's name, data type and value, and is
  at most the queue's ``MaximumMessageSize`` (1 MiB by default).
- At most 10 attributes per message, with names of letters, digits, ``_``, ``-``
  and ``.``, at most 256 characters, not starting with ``AWS.`` or ``Amazon.``.
- FIFO ``MessageGroupId`` and ``MessageDeduplicationId``: 1 to 128 characters
  from ``!`` to ``~`` (ASCII letters, digits and punctuation).

A body too large for the queue is stored in S3 and replaced by a pointer::

    {
      "schema": "genesys-stream.pointer/1",
      "type": "<event type, as in the original message>",
      "conversationId": "<conversation id>",
      "payload": {
        "s3Bucket": "<bucket>",
        "s3Key": "<key>",
        "size": <bytes of the original body>,
        "sha256": "<hex SHA-256 of the original body>"
      }
    }

The pointer keeps the original message attributes, group id and
deduplication id. The S3 object is the original body, byte for byte.
"""

from __future__ import annotations

import re

import orjson

from stores.base import OutboundMessage, PayloadPointer

POINTER_SCHEMA = "genesys-stream.pointer/1"
MAX_BATCH_ENTRIES = 10
DEFAULT_MAXIMUM_MESSAGE_SIZE = 1_048_576
MAX_ATTRIBUTES = 10

_FORBIDDEN_CHARACTER = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_\-.]{1,256}")
_FIFO_ID = re.compile(r"[!-~]{1,128}")
_STRING_TYPE = "String"


def body_text(message: OutboundMessage) -> str:
    """Return the body as text, or raise ``ValueError`` naming what SQS would reject."""
    if not message.body:
        raise ValueError("The body is empty; SQS needs at least one character.")
    try:
        text = message.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"The body is not valid UTF-8 at byte {exc.start}.") from exc
    _check_characters("The body", text)
    return text


def check_message(message: OutboundMessage, fifo: bool) -> None:
    """Raise ``ValueError`` when SQS would reject the attributes or ids of ``message``."""
    if len(message.attributes) > MAX_ATTRIBUTES:
        raise ValueError(
            f"The message has {len(message.attributes)} attributes; SQS allows {MAX_ATTRIBUTES}."
        )
    for name, value in message.attributes.items():
        lowered = name.lower()
        if (
            not _ATTRIBUTE_NAME.fullmatch(name)
            or lowered.startswith(("aws.", "amazon."))
            or ".." in name
            or name.startswith(".")
            or name.endswith(".")
        ):
            raise ValueError(f"Attribute name {name!r} is invalid for SQS.")
        if not value:
            raise ValueError(f"Attribute {name!r} is empty; SQS needs a non-empty value.")
        _check_characters(f"Attribute {name!r}", value)
    if fifo:
        for label, value in (
            ("MessageGroupId", message.conversation_id),
            ("MessageDeduplicationId", message.deduplication_id),
        ):
            if not _FIFO_ID.fullmatch(value):
                raise ValueError(
                    f"{label} {value!r} is invalid; use 1 to 128 ASCII letters, digits or "
                    "punctuation."
                )


def attributes_size(attributes: dict[str, str]) -> int:
    """Return the bytes SQS counts for message attributes: name, data type and value each."""
    return sum(
        len(name.encode()) + len(_STRING_TYPE) + len(value.encode())
        for name, value in attributes.items()
    )


def pointer_body(message: OutboundMessage, pointer: PayloadPointer) -> str:
    """Return the pointer message that replaces ``message`` when its body is in S3."""
    return orjson.dumps(
        {
            "schema": POINTER_SCHEMA,
            "type": message.event_type,
            "conversationId": message.conversation_id,
            "payload": {
                "s3Bucket": pointer.bucket,
                "s3Key": pointer.key,
                "size": pointer.size,
                "sha256": pointer.sha256,
            },
        }
    ).decode()


def _check_characters(label: str, text: str) -> None:
    found = _FORBIDDEN_CHARACTER.search(text)
    if found:
        raise ValueError(
            f"{label} contains U+{ord(found.group()):04X} at character {found.start()}, "
            "which SQS rejects; escape or remove it before encoding."
        )
