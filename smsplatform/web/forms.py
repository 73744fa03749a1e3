"""Dashboard forms. They check shape (presence, length, type); the services hold the rules."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField, IntegerField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField,
)
from wtforms.fields import DateField, DateTimeLocalField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from smsplatform.errors import DomainError
from smsplatform.messaging.service import CHANNEL_LABELS

SIM_CHOICES = list(CHANNEL_LABELS.items())


def opts(pairs) -> list[SelectChoice]:
    """Select options from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def device_choices(devices) -> list[tuple[int, str]]:
    """(id, label) pairs for a device select: the name and the id, as the device list shows them."""
    return [(d.id, f"{d.name} (#{d.id})") for d in devices]


def lf_line_breaks(text: str | None) -> str | None:
    """Line breaks as LF. Browsers submit a textarea's as CRLF, two SMS units each, where the page's counter
    (which reads the textarea's value) sees one LF: a message body is stored, sent and counted as typed."""
    return text.replace("\r\n", "\n").replace("\r", "\n") if text else text


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def show_error(form: FlaskForm, exc: DomainError, default_field: str | None = None,
               renamed: dict[str, str] | None = None) -> None:
    """Put a service error beside the field it names (``renamed`` maps the service's field names to the
    form's), else beside ``default_field``, else in the form's own error list; each of its ``problems`` so
    (a refused sign-up names several at once)."""
    for field, message in exc.problems:
        field = (renamed or {}).get(field, field)
        name = field if field in form._fields else default_field
        if name in form._fields:
            form[name].errors = [*form[name].errors, message]
        else:
            form.form_errors.append(message)


class SignupForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)],
                             description="At least 8 characters.")
    timezone = StringField("Time zone", default="UTC", validators=[DataRequired(), Length(max=64)],
                           description="For example Europe/Berlin; used for dates you type and see.")


class LoginForm(FlaskForm):
    email = StringField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)],
                                 description="At least 8 characters. Your other sessions are signed out.")


class SettingsForm(FlaskForm):
    timezone = StringField("Time zone", validators=[DataRequired(), Length(max=64)])
    default_region = StringField("Default region for phone numbers", validators=[Optional(), Length(max=2)],
                                 description="Two letters, e.g. DE; national numbers are read in this region.")
    optout_keywords = StringField("Opt-out keywords", validators=[DataRequired(), Length(max=1000)],
                                  description="Comma-separated; an incoming SMS that is one of them (any case, "
                                              "punctuation and emoji around it ignored) opts the sender out.")
    allow_direct_to_opted_out = BooleanField("Allow direct sends to opted-out numbers")


class TokenForm(FlaskForm):
    label = StringField("Label", validators=[Optional(), Length(max=100)],
                        description="To recognise the token later, e.g. “CRM”.")


class DeviceSettingsForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=128)])
    delay_between_each_sms = IntegerField("Delay between SMS (seconds)",
                                          validators=[Optional(), NumberRange(min=0, max=3600)])
    delay_between_request = IntegerField("Delay between requests (seconds)",
                                         validators=[Optional(), NumberRange(min=0, max=3600)])
    plus_prefixes = StringField("Add a plus if the number starts with", validators=[Optional(), Length(max=64)],
                                description="Comma-separated prefixes, e.g. 91,49.")


class RemoveDeviceForm(FlaskForm):
    queued = SelectField("Its queued messages", choices=opts([("fail", "Cancel them (marked cancelled)"),
                                                              ("move", "Move them to another device")]),
                         default="fail")
    target_device_id = SelectField("Move to", coerce=int, choices=[], validate_choice=False)


class SendForm(FlaskForm):
    device_id = SelectField("Device", coerce=int, validate_choice=False)
    sim = SelectField("SIM / channel", coerce=int, choices=opts(SIM_CHOICES), default=0)
    recipients = TextAreaField("Recipients", validators=[DataRequired(message="give at least one recipient"),
                                                         Length(max=200_000)],
                               description="One number per line (or separated by commas).")
    body = TextAreaField("Message", filters=[lf_line_breaks], validators=[Length(max=5000)])
    image = FileField("Image (optional)",
                      description="JPEG, PNG, WebP or GIF; its link follows the text (the message may then be empty).")
    send_at = DateTimeLocalField("Send at (optional)", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                 validators=[Optional()], description="In your time zone; empty means now.")
    urgent = BooleanField("Urgent (first in line, skips the phone's delays)")


class ReplyForm(FlaskForm):
    body = TextAreaField("Reply", filters=[lf_line_breaks], validators=[DataRequired(), Length(max=5000)])


class MessageFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    status = SelectField("Status", choices=opts([("", "Any"), ("pending", "Pending"), ("sent", "Sent"),
                                                 ("delivered", "Delivered"), ("failed", "Failed"),
                                                 ("cancelled", "Cancelled / opted out"), ("incoming", "Incoming")]),
                         default="", validators=[Optional()])
    device_id = SelectField("Device", coerce=str, validate_choice=False, default="")
    sim = SelectField("SIM", choices=opts([("", "Any")] + [(str(v), t) for v, t in SIM_CHOICES]), default="",
                      validators=[Optional()])
    direction = SelectField("Direction", choices=opts([("", "Any"), ("out", "Outgoing"), ("in", "Incoming")]),
                            default="", validators=[Optional()])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
    number = StringField("Number", validators=[Optional(), Length(max=64)])
    paket_id = SelectField("Newsletter", coerce=str, validate_choice=False, default="")


class ContactForm(FlaskForm):
    phone = StringField("Phone number", validators=[DataRequired(), Length(max=64)])
    name = StringField("Name", validators=[Optional(), Length(max=255)])
    tag_ids = MultiCheckboxField("Tags", coerce=int, validate_choice=False)


class TagForm(FlaskForm):
    title = StringField("New tag", validators=[DataRequired(), Length(max=100)])


class BulkTagForm(FlaskForm):
    contact_ids = SelectMultipleField("Contacts", coerce=int, validate_choice=False)
    action = SelectField("Action", choices=opts([("tag", "Add tag"), ("untag", "Remove tag")]))
    tag_id = SelectField("Tag", coerce=int, validate_choice=False)


class ImportForm(FlaskForm):
    file = FileField("CSV or Excel file",
                     description="Header row with phone (or Telefon, Handy…; required), name, tags, opted out.")
    mode = SelectField("Mode", choices=opts([("add", "Add contacts and tags"), ("blocklist", "Blocklist (opt out)")]))
    tag_id = SelectField("Also tag every row with", coerce=int, validate_choice=False, default=0)


class NewsletterForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=255)])
    body = TextAreaField("Message", filters=[lf_line_breaks], validators=[Length(max=5000)],
                         description="Personalise with {name}, {first_name}, {last_name}, {phone}; a fallback after |, e.g. {first_name|there}.")
    image = FileField("Image (optional)",
                      description="JPEG, PNG, WebP or GIF; its link follows the text (the message may then be empty).")
    device_id = SelectField("Device", coerce=int, validate_choice=False)
    sim = SelectField("SIM / channel", coerce=int, choices=opts(SIM_CHOICES), default=0)
    tag_ids = MultiCheckboxField("Send to contacts tagged", coerce=int, validate_choice=False)
    send_at = DateTimeLocalField("Send at (optional)", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                 validators=[Optional()], description="In your time zone.")

    def validate_body(self, field) -> None:
        """A message or an image: the body may be empty only when an image goes with it."""
        if not (field.data or "").strip() and not self.keeps_an_image():
            raise ValidationError("write a message or choose an image")

    def keeps_an_image(self) -> bool:
        return bool(getattr(self.image.data, "filename", ""))

    def validate_tag_ids(self, field) -> None:
        """At least one tag ticked (the service asks API clients for tag ids, separated by commas)."""
        if not field.data:
            raise ValidationError("choose at least one tag")


class EditNewsletterForm(NewsletterForm):
    """The newsletter form over an existing one: its image stays unless replaced or removed."""

    remove_image = BooleanField("Remove the image")

    def __init__(self, *args, has_image: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.has_image = has_image

    def keeps_an_image(self) -> bool:
        return super().keeps_an_image() or (self.has_image and not self.remove_image.data)

