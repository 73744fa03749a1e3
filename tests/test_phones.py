"""Phone number normalisation: the space a GET query makes of a ``+``, and national numbers."""
import pytest

from smsplatform.errors import ValidationError
from smsplatform.phones import normalize_phone


def test_a_leading_space_before_a_country_code_is_a_plus():
    phone = normalize_phone(" 4915752982212")
    assert (phone.raw, phone.normalized) == (" 4915752982212", "+4915752982212")


def test_a_leading_space_before_a_national_number_is_only_a_space():
    phone = normalize_phone(" 015752982212", "DE")
    assert (phone.raw, phone.normalized) == (" 015752982212", "+4915752982212")



@pytest.mark.parametrize("raw", ["4.9E+12", "4,91577E+12", " 4.91577e12 ", "1e+15"])
def test_a_number_in_scientific_notation_is_refused_not_read_as_its_digits(raw):
    """"4.9E+12" is 4915752982212 after a spreadsheet rounded it; its digits "4912" are another number."""
    with pytest.raises(ValidationError, match="scientific notation.*last digits are lost"):
        normalize_phone(raw, "DE")
