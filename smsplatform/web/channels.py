"""The device and channel selects of the Send and newsletter forms: each phone's option names its channels
(``data-slots``, for app.js to offer only those), the channel select lists what any of the phones has, and a
channel the chosen phone lacks is refused beside the select in the form's words."""
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from smsplatform.messaging.service import available_slots, channel_label
from smsplatform.models import Device
from smsplatform.web.forms import device_choices, opts


def fill_choices(device_field: SelectField, sim_field: SelectField, devices: list[Device]) -> dict[int, list[int]]:
    """Fill both selects from the account's phones; returns each phone's channels. Without the script the
    channel select lists every phone's channels (and only those), so the server checks the pair again."""
    channels = {d.id: available_slots(d) for d in devices}
    device_field.choices = [
        SelectChoice(value, label, render_kw={"data-slots": ",".join(map(str, channels[value]))})
        for value, label in device_choices(devices)]
    sim_field.choices = opts((sim, channel_label(sim)) for sim in sorted(set().union(*channels.values()) or {0}))
    return channels


def channel_offered(device_field: SelectField, sim_field: SelectField, channels: dict[int, list[int]]) -> bool:
    """Whether the chosen channel is one the chosen phone has (``channels``: ``fill_choices``'s answer); if not,
    says so beside the channel select (in place of WTForms' "Not a valid choice"). A device that is not the
    account's is the service's to refuse."""
    device = next((choice for choice in device_field.choices if choice.value == device_field.data), None)
    sim = sim_field.data
    if device is None or sim in channels[device.value]:
        return True
    offered = ", ".join(map(channel_label, channels[device.value]))
    sim_field.errors = [f"{device.label} cannot send through {channel_label(sim)}; it offers {offered}."]
    return False
