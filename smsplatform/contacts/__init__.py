"""Contacts, tags, CSV import and opt-out."""
