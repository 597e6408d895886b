"""Switchboard: the contact-center data platform's shared core (settings, warehouse, CLI)."""
