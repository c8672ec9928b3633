"""Credentials: the encryption keyring, the encrypted token vault, and OAuth flows."""
