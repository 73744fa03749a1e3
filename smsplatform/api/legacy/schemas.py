"""Marshmallow schemas for the legacy methods' flat parameters (messages are checked by the service).

Fields accept what legacy clients send: numbers as strings or JSON numbers, ``true``, and empty
values for optional parameters. Errors become one ``ValidationError`` naming the field.

Limits a service defines (tag and newsletter titles, contact names, phone numbers, slots) are the
service's alone: a schema either refers to its constant or leaves the check to it, so the legacy
API and the dashboard accept exactly the same values. The lengths left here (dates, zone names) guard
only what this edge echoes back in its errors.
"""
from marshmallow import EXCLUDE, Schema, fields
from marshmallow import ValidationError as SchemaError

from smsplatform.errors import DomainError, ValidationError
from smsplatform.messaging.service import MAX_SLOT, as_flag, as_int, as_text


class LegacyInt(fields.Field):
    def __init__(self, *, minimum: int | None = None, maximum: int | None = None, **kwargs):
        if not kwargs.get("required"):
            kwargs.setdefault("load_default", None)
        super().__init__(allow_none=True, **kwargs)
        self.minimum, self.maximum = minimum, maximum

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return as_int(value, attr, required=self.required, minimum=self.minimum, maximum=self.maximum)
        except DomainError as exc:
            raise SchemaError(exc.message) from exc


class LegacyFlag(fields.Field):
    def __init__(self, **kwargs):
        super().__init__(allow_none=True, load_default=False, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return as_flag(value, attr)
        except DomainError as exc:
            raise SchemaError(exc.message) from exc


class LegacyText(fields.Field):
    """A string; required ones must not be empty or only spaces. ``max_length`` counts characters."""

    def __init__(self, *, max_length: int | None = None, **kwargs):
        if not kwargs.get("required"):
            kwargs.setdefault("load_default", None)
        super().__init__(allow_none=True, **kwargs)
        self.max_length = max_length

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            text = as_text(value, attr, required=self.required)
        except DomainError as exc:
            raise SchemaError(exc.message) from exc
        if text is not None and not text.strip():
            if self.required:
                raise SchemaError(f"{attr} is empty")
            return None
        if text is not None and self.max_length is not None and len(text) > self.max_length:
            raise SchemaError(f"{attr} is too long: {len(text)} characters, at most {self.max_length}")
        return text


class LegacySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    def handle_error(self, error: SchemaError, data, **kwargs):
        raise ValidationError(_first_message(error.messages), field=next(iter(error.messages), None))


def _first_message(messages) -> str:
    field, problems = next(iter(messages.items()))
    text = problems[0] if isinstance(problems, list) else str(problems)
    if text == "Missing data for required field.":
        return f"{field} is required"
    return text if text.startswith(field) else f"{field}: {text}"


def required(**kwargs) -> dict:
    return {"required": True, **kwargs}


class ListSmsSchema(LegacySchema):
    device_id = LegacyInt(minimum=1)
    status = LegacyInt(minimum=0, maximum=1000)
    begindate = LegacyText(max_length=40)
    enddate = LegacyText(max_length=40)
    sim = LegacyInt(minimum=0, maximum=MAX_SLOT)
    customerid = LegacyInt()  # any BIGINT: as_int's own range
    phone = LegacyText()  # its length: phones.normalize_phone
    onlycount = LegacyFlag()
    orderbydesc = LegacyFlag()
    timezone = LegacyText(max_length=64)
    limit = LegacyInt(minimum=1)
    offset = LegacyInt(minimum=0)


class SmsStatusSchema(LegacySchema):
    sms_id = LegacyInt(minimum=1, **required())


class DeviceStatusSchema(LegacySchema):
    device_id = LegacyInt(minimum=1, **required())
    timezone = LegacyText(max_length=64)


class TimezoneSchema(LegacySchema):
    timezone = LegacyText(max_length=64)


class SaveTagSchema(LegacySchema):
    title = LegacyText(**required())  # its length: contacts.services.clean_tag_title


class SaveContactSchema(LegacySchema):
    phone = LegacyText(**required())  # its length: phones.normalize_phone
    tag_id = LegacyInt(minimum=1, **required())  # the seed's ctag_id is [required]
    name = LegacyText()  # its length: contacts.services.clean_name


class SavePaketSchema(LegacySchema):
    title = LegacyText(**required())  # its length: campaigns.services._validated_content
    body = LegacyText(**required())
    device_id = LegacyInt(minimum=1, **required())
    tags = fields.Raw(allow_none=True, load_default=None)
    sim = LegacyInt(minimum=0, maximum=MAX_SLOT)
    time_to_send = fields.Raw(allow_none=True, load_default=None)
