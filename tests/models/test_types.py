"""Reading a row id from input (``parse_row_id``, ``parse_row_ids``): what the contacts services and the
message list's bulk cancel share."""
import pytest

from smsplatform.errors import NotFoundError, ValidationError
from smsplatform.models.types import MAX_ROW_ID, parse_row_id, parse_row_ids


@pytest.mark.parametrize("value, number", [
    (7, 7), ("7", 7), (" 7 ", 7), ("\t7\n", 7), ("007", 7), ("0" * 30 + "7", 7), ("0", 0),
    (MAX_ROW_ID, MAX_ROW_ID), (str(MAX_ROW_ID), MAX_ROW_ID), (f" {MAX_ROW_ID} ", MAX_ROW_ID),
])
def test_ints_and_decimal_strings_are_read(value, number):
    assert parse_row_id(value, "tag_id") == number
    assert parse_row_id(value, "tag_id", signed=True) == number


@pytest.mark.parametrize("value", [
    "", " ", "\t\n", None, "abc", "7a", "1.5", "7.0", "1e3", "1_000", "0x10", "7 8", "--7", "+-7", "½",
    True, False, 1.0, 7.5, [7], {"id": 7}, b"7",
])
@pytest.mark.parametrize("signed", [False, True])
def test_anything_else_is_malformed(value, signed):
    with pytest.raises(ValidationError) as error:
        parse_row_id(value, "tag_id", signed=signed)
    assert (error.value.field, error.value.message) == ("tag_id", f"tag_id must be a number, got {str(value)[:40]!r}")


@pytest.mark.parametrize("value", ["-3", -3, "+3", " -3 ", "-0", "+0"])
def test_a_sign_is_malformed_unless_signed(value):
    with pytest.raises(ValidationError, match="must be a number"):
        parse_row_id(value, "message_ids")
    assert parse_row_id(value, "contact_id", signed=True) == int(str(value))


@pytest.mark.parametrize("value", [
    MAX_ROW_ID + 1, str(MAX_ROW_ID + 1), "9" * 19, "9" * 20, " " + "9" * 25 + " ", "9" * 5000, 2 ** 64,
])
@pytest.mark.parametrize("signed", [False, True])
def test_past_a_bigint_names_no_row(value, signed):
    with pytest.raises(NotFoundError) as error:
        parse_row_id(value, "tag_id", signed=signed)
    assert (error.value.field, error.value.message) == ("tag_id", f"tag_id {str(value).strip()[:40]} not found")


@pytest.mark.parametrize("value", [-MAX_ROW_ID - 1, str(-MAX_ROW_ID - 1), "-" + "9" * 20])
def test_signed_past_a_bigint_below_zero_names_no_row(value):
    with pytest.raises(NotFoundError):
        parse_row_id(value, "tag_id", signed=True)
    assert parse_row_id(-MAX_ROW_ID, "tag_id", signed=True) == -MAX_ROW_ID


def test_the_caller_words_its_errors():
    with pytest.raises(ValidationError) as error:
        parse_row_id("x", "message_ids", expected="numbers", noun="message")
    assert error.value.message == "message_ids must be numbers, got 'x'"
    with pytest.raises(NotFoundError) as error:
        parse_row_id("9" * 20, "message_ids", expected="numbers", noun="message")
    assert error.value.message == f"message {'9' * 20} not found"


def test_a_list_keeps_its_order_and_each_id_once():
    assert parse_row_ids(["3", 1, " 3", 3, "003", "2"], "tag_ids") == [3, 1, 2]
    assert parse_row_ids([], "tag_ids") == [] and parse_row_ids(None, "tag_ids") == []
    assert parse_row_ids(("-1", "1"), "tag_ids", signed=True) == [-1, 1]


def test_a_list_stops_at_its_first_bad_id():
    with pytest.raises(ValidationError, match="got 'x'"):
        parse_row_ids(["1", "x", "9" * 20], "message_ids", expected="numbers", noun="message")
    with pytest.raises(NotFoundError, match=f"message {'9' * 20} not found"):
        parse_row_ids(["1", "9" * 20, "x"], "message_ids", expected="numbers", noun="message")
    with pytest.raises(ValidationError, match="got ''"):
        parse_row_ids(["1", ""], "contact_ids", signed=True)
