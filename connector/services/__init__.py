"""The service layer: every write the command line, the API and import make goes through here."""
