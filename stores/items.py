"""Conversation state as stored items: checks, DynamoDB typing, sizing, compression, trimming.

Pure functions; ``stores.dynamodb`` and ``stores.local`` do the I/O. A DynamoDB
item may be at most 400 KB. An item whose estimated size is above
``TARGET_ITEM_BYTES`` is stored in a smaller form, in two steps, each only when
the previous one was not enough:

1. Compress: ``participants`` is replaced by ``participantsGz``, a binary
   attribute holding gzip of its JSON, and ``compressed`` is set to true.
2. Trim: the ``attributes`` maps of participants are emptied, largest first,
   until the item fits. ``trimmed`` is set to true, and ``trimmedParticipants``
   lists the ids of the participants that lost them.

``decode_item`` reverses step 1, so a loaded record always has ``participants``.
Step 2 loses data by design and is visible through ``trimmed``. Every
participant is kept in both steps.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable, Mapping
from decimal import Decimal, DecimalException
from typing import Any

import orjson
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from stores.base import StateRecord

# DynamoDB's item size limit of 400 KB, read as 409,600 bytes as moto does, and
# the size above which items are made smaller: 350,000 bytes is under 400 KB
# either way, with room for the estimate's error.
DYNAMODB_ITEM_LIMIT = 400 * 1024
TARGET_ITEM_BYTES = 350_000

# Attributes only the stored form has.
PARTICIPANTS_GZ = "participantsGz"
COMPRESSED = "compressed"
TRIMMED = "trimmed"
TRIMMED_PARTICIPANTS = "trimmedParticipants"


class _Deserializer(TypeDeserializer):
    """boto3's deserializer, returning binaries as ``bytes`` instead of its ``Binary`` wrapper."""

    def _deserialize_b(self, value: bytes) -> bytes:
        return value


_serializer = TypeSerializer()
_deserializer = _Deserializer()


class ItemTooLargeError(ValueError):
    """An item stays above the target size even with every ``attributes`` map trimmed."""


def encode_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``item`` as DynamoDB attribute values, compressed or trimmed to fit.

    Raises ``ItemTooLargeError`` when no smaller form fits, and ``ValueError`` for a
    value DynamoDB cannot store (a NaN or infinite float, a number of more than
    38 digits).
    """
    encoded, size = _sized_attribute_values(item)
    if size <= TARGET_ITEM_BYTES:
        return encoded
    if "participants" not in item:
        if size > DYNAMODB_ITEM_LIMIT:
            raise ItemTooLargeError(
                f"Conversation {item.get('conversationId')} is about {size} bytes without "
                f"participants, above the DynamoDB item limit of {DYNAMODB_ITEM_LIMIT}."
            )
        return encoded

    compressed = to_attribute_values(compress(item))
    if item_size(compressed) <= TARGET_ITEM_BYTES:
        return compressed

    return to_attribute_values(compress(trim(item, _fits)))


def decode_item(attribute_values: Mapping[str, Any]) -> dict[str, Any]:
    """Return the plain item stored as ``attribute_values``, decompressing ``participants``."""
    item = {
        key: _from_dynamodb(_deserializer.deserialize(value))
        for key, value in attribute_values.items()
    }
    packed = item.pop(PARTICIPANTS_GZ, None)
    item.pop(COMPRESSED, None)
    if isinstance(packed, bytes):
        item["participants"] = orjson.loads(gzip.decompress(packed))
    return item


def compress(item: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``item`` with ``participants`` replaced by its gzipped JSON."""
    packed = dict(item)
    participants = packed.pop("participants")
    packed[PARTICIPANTS_GZ] = gzip.compress(orjson.dumps(participants), compresslevel=6, mtime=0)
    packed[COMPRESSED] = True
    return packed


def trim(item: Mapping[str, Any], fits: Callable[[Mapping[str, Any]], bool]) -> dict[str, Any]:
    """Return ``item`` with the fewest largest ``attributes`` maps emptied so that ``fits`` holds.

    Raises ``ItemTooLargeError`` when the item does not fit even with all of them emptied.
    """
    ranked = sorted(
        _participants_with_attributes(item["participants"]),
        key=lambda entry: len(orjson.dumps(entry[1].get("attributes"))),
        reverse=True,
    )

    # Binary search for the smallest number of maps to empty, largest first.
    low, high = 1, len(ranked)
    if not ranked or not fits(_without_attributes(item, [pid for pid, _ in ranked])):
        raise ItemTooLargeError(
            f"Conversation {item.get('conversationId')} does not fit in "
            f"{TARGET_ITEM_BYTES} bytes even with every participant's attributes trimmed."
        )
    while low < high:
        middle = (low + high) // 2
        if fits(_without_attributes(item, [pid for pid, _ in ranked[:middle]])):
            high = middle
        else:
            low = middle + 1
    return _without_attributes(item, [pid for pid, _ in ranked[:low]])


def to_attribute_values(item: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``item`` as DynamoDB attribute values; floats become ``Decimal``.

    Raises ``ValueError`` naming the attribute for a NaN or infinite float and for
    a number of more than 38 significant digits.
    """
    return _sized_attribute_values(item)[0]


def _sized_attribute_values(item: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """Return ``to_attribute_values(item)`` and its ``item_size``, in one pass."""
    encoded = {}
    size = 0
    for key, value in item.items():
        try:
            try:
                attribute_value, value_size = _sized_attribute_value(value)
            except ValueError:
                # Again on the checked path, whose error names the invalid value's path.
                attribute_value = _serializer.serialize(_to_dynamodb(value, key))
                value_size = _value_size(attribute_value)
        except DecimalException as exc:
            raise ValueError(
                f"{key} contains a number DynamoDB cannot store exactly (over 38 digits); "
                "store it as a string."
            ) from exc
        encoded[key] = attribute_value
        size += _utf8_length(key) + value_size
    return encoded, size


def item_size(attribute_values: Mapping[str, Any]) -> int:
    """Return an estimate of an item's size in bytes, by DynamoDB's documented rules.

    Names and strings count their UTF-8 bytes, binaries their length, numbers one
    byte per two significant digits plus one, booleans and nulls one byte, and
    lists and maps three bytes plus one per element. The estimate errs high.
    """
    return sum(len(name.encode()) + _value_size(value) for name, value in attribute_values.items())


def checked_item(record: StateRecord, expected_revision: int | None) -> dict[str, Any]:
    """Return ``record.item`` with its key and revision, rejecting an inconsistent record."""
    if not record.conversation_id:
        raise ValueError("A state record needs a conversation id; got an empty one.")
    for name, value in (("conversationId", record.conversation_id), ("revision", record.revision)):
        if name in record.item and record.item[name] != value:
            raise ValueError(
                f"Record item {name} is {record.item[name]!r} but the record has {value!r}; "
                "build both from the same merged state."
            )
    if expected_revision is not None and record.revision <= expected_revision:
        raise ValueError(
            f"Revision {record.revision} of conversation {record.conversation_id} does not "
            f"move past the expected revision {expected_revision}; bump the revision on merge."
        )
    return {**record.item, "conversationId": record.conversation_id, "revision": record.revision}


def record_from_item(item: dict[str, Any]) -> StateRecord:
    """Return the record of a plain stored item."""
    return StateRecord(
        conversation_id=str(item["conversationId"]), revision=int(item["revision"]), item=item
    )


def _fits(item: Mapping[str, Any]) -> bool:
    return item_size(to_attribute_values(compress(item))) <= TARGET_ITEM_BYTES


def _value_size(value: Mapping[str, Any]) -> int:
    # Loops rather than generator expressions, which cost more per value.
    kind, content = next(iter(value.items()))
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        digits = content.lstrip("-").split("e")[0].split("E")[0].replace(".", "").strip("0")
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        size = 3
        for element in content:
            size += 1 + _value_size(element)
        return size
    if kind == "M":
        size = 3
        for name, element in content.items():
            size += 1 + len(name.encode()) + _value_size(element)
        return size
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: element}) for element in content)
    raise ValueError(f"Unknown DynamoDB attribute type {kind!r}.")


def _participants_with_attributes(participants: Any) -> list[tuple[str, dict[str, Any]]]:
    """Return ``(participant id, participant)`` for each participant with ``attributes``.

    ``participants`` may be a list of objects with ``id`` or a map keyed by id.
    """
    if isinstance(participants, Mapping):
        entries = [(str(pid), participant) for pid, participant in participants.items()]
    elif isinstance(participants, list):
        entries = [(_participant_id(participant), participant) for participant in participants]
    else:
        entries = []
    return [
        (pid, participant)
        for pid, participant in entries
        if isinstance(participant, dict) and participant.get("attributes")
    ]


def _without_attributes(item: Mapping[str, Any], participant_ids: list[str]) -> dict[str, Any]:
    doomed = set(participant_ids)

    def emptied(pid: str, participant: Any) -> Any:
        if pid in doomed and isinstance(participant, dict):
            return {**participant, "attributes": {}}
        return participant

    participants = item["participants"]
    trimmed = dict(item)
    if isinstance(participants, Mapping):
        trimmed["participants"] = {pid: emptied(str(pid), p) for pid, p in participants.items()}
    else:
        trimmed["participants"] = [emptied(_participant_id(p), p) for p in participants]
    trimmed[TRIMMED] = True
    trimmed[TRIMMED_PARTICIPANTS] = sorted(doomed)
    return trimmed


def _participant_id(participant: Any) -> str:
    return str(participant.get("id")) if isinstance(participant, Mapping) else ""


# Integers below this magnitude have at most 38 digits, so DynamoDB stores them exactly.
_EXACT_INTEGER_LIMIT = 10**38


def _utf8_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def _sized_attribute_value(value: Any) -> tuple[Any, int]:
    """Return ``value`` as a DynamoDB attribute value, as ``TypeSerializer`` would, and its size.

    Strings, booleans, nulls, integers of at most 38 digits, objects and
    arrays are converted here, several times faster than by boto3's
    serializer, and sized as ``item_size`` sizes them. Other values (floats,
    ``Decimal``, bytes, sets, larger integers) go through ``_to_dynamodb`` and
    the serializer, with their checks.
    """
    kind = type(value)
    if kind is str:
        return {"S": value}, _utf8_length(value)
    # Strings are most values and names: the loops handle them without a call each.
    # isascii() is a flag check in CPython, cheaper than encoding.
    if kind is dict:
        members = {}
        size = 3
        for name, item in value.items():
            if type(item) is str:
                members[name] = {"S": item}
                member_size = len(item) if item.isascii() else len(item.encode())
            else:
                members[name], member_size = _sized_attribute_value(item)
            size += 1 + (len(name) if name.isascii() else len(name.encode())) + member_size
        return {"M": members}, size
    if kind is list or kind is tuple:
        elements = []
        size = 3
        for item in value:
            if type(item) is str:
                element: Any = {"S": item}
                member_size = len(item) if item.isascii() else len(item.encode())
            else:
                element, member_size = _sized_attribute_value(item)
            elements.append(element)
            size += 1 + member_size
        return {"L": elements}, size
    if kind is bool:
        return {"BOOL": value}, 1
    if value is None:
        return {"NULL": True}, 1
    if kind is int and -_EXACT_INTEGER_LIMIT < value < _EXACT_INTEGER_LIMIT:
        digits = str(abs(value)).strip("0")
        return {"N": str(value)}, math.ceil(len(digits) / 2) + 1
    attribute_value = _serializer.serialize(_to_dynamodb(value, ""))
    return attribute_value, _value_size(attribute_value)


def _to_dynamodb(value: Any, path: str) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(
                f"{path} is {value}, which DynamoDB cannot store; use null or a string."
            )
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {key: _to_dynamodb(element, f"{path}.{key}") for key, element in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamodb(element, f"{path}[{index}]") for index, element in enumerate(value)]
    return value


def _from_dynamodb(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _from_dynamodb(element) for key, element in value.items()}
    if isinstance(value, list):
        return [_from_dynamodb(element) for element in value]
    return value
