"""DynamoDB item encoding: types, size estimate, compression and trimming, without I/O."""

from __future__ import annotations

import base64
import math
import random
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from stores.items import (
    COMPRESSED,
    DYNAMODB_ITEM_LIMIT,
    PARTICIPANTS_GZ,
    TARGET_ITEM_BYTES,
    TRIMMED,
    TRIMMED_PARTICIPANTS,
    ItemTooLargeError,
    decode_item,
    encode_item,
    item_size,
    to_attribute_values,
)


def participants(count: int, attribute_bytes: int, seed: int = 7) -> list[dict[str, Any]]:
    """Return participants whose attributes are random, so they barely compress."""
    rng = random.Random(seed)
    return [
        {
            "id": f"p-{number}",
            "purpose": "agent",
            "attributes": {
                "blob": base64.b64encode(rng.randbytes(attribute_bytes * 3 // 4)).decode()
            },
        }
        for number in range(count)
    ]


def test_floats_become_decimals() -> None:
    encoded = to_attribute_values({"score": 4.5, "nested": {"ratio": 0.1}})

    assert encoded["score"] == {"N": "4.5"}
    assert encoded["nested"] == {"M": {"ratio": {"N": "0.1"}}}


def test_decode_restores_python_types() -> None:
    item = {"n": 3, "f": 2.25, "s": "x", "b": True, "none": None, "l": [1, "a"], "m": {"k": 1}}

    assert decode_item(to_attribute_values(item)) == item


def test_integral_decimal_decodes_as_int() -> None:
    assert decode_item({"n": {"N": "1E+2"}}) == {"n": 100}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_float_rejected(value: float) -> None:
    with pytest.raises(ValueError, match=r"participants\[0\]\.score"):
        to_attribute_values({"participants": [{"score": value}]})


def test_size_counts_names_and_values() -> None:
    encoded = to_attribute_values({"id": "abc", "flag": True, "n": 12345, "b": b"\x00\x01"})

    # id: 2 + 3; flag: 4 + 1; n: 1 + (3 + 1); b: 1 + 2
    assert item_size(encoded) == 5 + 5 + 5 + 3


def test_size_counts_nested_overhead() -> None:
    encoded = to_attribute_values({"m": {"k": "v"}, "l": ["x", "y"]})

    # m: 1 + 3 + (1 + 1 + 1); l: 1 + 3 + (1 + 1) * 2
    assert item_size(encoded) == 7 + 8


def test_size_errs_high_against_decimal_digits() -> None:
    assert item_size({"n": {"N": "-0.000123"}}) == 1 + 3


def test_small_item_stored_as_is() -> None:
    item = {"conversationId": "c-1", "participants": participants(3, 100)}

    encoded = encode_item(item)

    assert "participants" in encoded
    assert COMPRESSED not in encoded


def test_large_item_compressed() -> None:
    repetitive = [
        {"id": f"p-{n}", "attributes": {"note": "the customer asked about billing " * 400}}
        for n in range(40)
    ]
    item = {"conversationId": "c-1", "revision": 1, "participants": repetitive}

    encoded = encode_item(item)

    assert item_size(to_attribute_values(item)) > TARGET_ITEM_BYTES
    assert encoded[COMPRESSED] == {"BOOL": True}
    assert "participants" not in encoded
    assert item_size(encoded) <= TARGET_ITEM_BYTES
    assert decode_item(encoded) == item


def test_incompressible_item_trimmed() -> None:
    item = {"conversationId": "c-1", "revision": 1, "participants": participants(40, 15_000)}

    encoded = encode_item(item)
    decoded = decode_item(encoded)

    assert item_size(encoded) <= TARGET_ITEM_BYTES < DYNAMODB_ITEM_LIMIT
    assert decoded[TRIMMED] is True
    assert len(decoded["participants"]) == 40
    trimmed = decoded[TRIMMED_PARTICIPANTS]
    assert 0 < len(trimmed) < 40
    for participant in decoded["participants"]:
        if participant["id"] in trimmed:
            assert participant["attributes"] == {}
        else:
            assert participant["attributes"] != {}


def test_trim_takes_largest_first() -> None:
    people = participants(30, 14_000)
    people[4]["attributes"]["extra"] = participants(1, 80_000, seed=8)[0]["attributes"]["blob"]
    item = {"conversationId": "c-1", "participants": people}

    decoded = decode_item(encode_item(item))

    assert decoded[TRIMMED_PARTICIPANTS] == ["p-4"]


def test_participants_as_map_trimmed() -> None:
    as_map = {person["id"]: person for person in participants(40, 15_000)}
    item = {"conversationId": "c-1", "participants": as_map}

    decoded = decode_item(encode_item(item))

    assert set(decoded["participants"]) == set(as_map)
    assert decoded[TRIMMED] is True


def test_item_too_large_even_trimmed() -> None:
    huge = {"conversationId": "c-1", "notes": "y" * 500_000, "participants": participants(2, 10)}

    with pytest.raises(ItemTooLargeError, match="c-1"):
        encode_item(huge)


def test_compressed_binary_attribute() -> None:
    item = {"conversationId": "c-1", "participants": participants(40, 15_000)}

    encoded = encode_item(item)

    assert isinstance(encoded[PARTICIPANTS_GZ]["B"], bytes)
    assert decode_item(encoded)["participants"][0]["id"] == "p-0"


def test_decimal_passes_through() -> None:
    assert to_attribute_values({"n": Decimal("1.25")}) == {"n": {"N": "1.25"}}


def test_number_over_38_digits_rejected() -> None:
    with pytest.raises(ValueError, match="big"):
        to_attribute_values({"big": 10**40 + 1})


def test_conversion_matches_boto3_serializer() -> None:
    item = {
        "s": "text",
        "unicode": "\u00e9t\u00e9",
        "n": 12_300,
        "negative": -7,
        "b": False,
        "none": None,
        "l": ["a", 1, ["nested"], {"k": "\u00fc"}],
        "m": {"\u00e9": "v", "inner": {"x": [True, None]}},
        "t": ("a", 2),
        "big": 10**37,
        "bytes": b"\x00\x01",
        "f": 2.5,
    }
    serializer = TypeSerializer()
    expected = {
        key: serializer.serialize(list(value) if isinstance(value, tuple) else value)
        for key, value in {**item, "f": Decimal("2.5")}.items()
    }

    assert to_attribute_values(item) == expected


def test_encode_item_sizes_as_item_size() -> None:
    item = {"id": "\u00e9", "l": ["x", 12_000, {"k": "\u00fc", "n": None}], "f": 1.5}
    size = item_size(to_attribute_values(item))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("stores.items.TARGET_ITEM_BYTES", size)
        at_limit = encode_item(item)
        patch.setattr("stores.items.TARGET_ITEM_BYTES", size - 1)
        patch.setattr("stores.items.DYNAMODB_ITEM_LIMIT", size - 1)
        with pytest.raises(ItemTooLargeError):
            encode_item(item)

    assert at_limit == to_attribute_values(item)
