"""Phones: pairing, device credentials, the phone API (``/api/mobile/v1``) and its webhooks."""
