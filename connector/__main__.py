"""`python -m connector` is `upm-connector`."""

from connector.cli import main

main()
