"""All tables. Import models from here so every mapper is configured before use."""
from smsplatform.models.accounts import (
    Account, AccountSettings, ApiToken, AuthFailure, DashboardSession, KnownLoginAddress,
)
from smsplatform.models.campaigns import Paket, StoredObject, paket_tags
from smsplatform.models.contacts import Contact, Tag, contact_tags
from smsplatform.models.devices import Device, PairingCode, WebhookReceipt
from smsplatform.models.messages import Conversation, Message

__all__ = [
    "Account", "AccountSettings", "ApiToken", "AuthFailure", "Contact", "Conversation", "DashboardSession", "Device",
    "KnownLoginAddress",
    "Message", "PairingCode", "Paket", "StoredObject", "Tag", "WebhookReceipt", "contact_tags", "paket_tags",
]
