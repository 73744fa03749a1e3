"""Phone number normalisation: the space a GET query makes of a ``+``, and national numbers."""
from smsplatform.phones import normalize_phone


def test_a_leading_space_before_a_country_code_is_a_plus():
    phone = normalize_phone(" 4915752982212")
    assert (phone.raw, phone.normalized) == (" 4915752982212", "+4915752982212")


def test_a_leading_space_before_a_national_number_is_only_a_space():
    phone = normalize_phone(" 015752982212", "DE")
    assert (phone.raw, phone.normalized) == (" 015752982212", "+4915752982212")

