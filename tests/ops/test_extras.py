"""A feature whose extra is missing says which extra to install."""

from __future__ import annotations

import pytest

from connector.extras import MissingExtraError, require


def test_a_missing_extra_names_the_install_command() -> None:
    with pytest.raises(MissingExtraError, match=r"a PostgreSQL database needs the 'postgres' extra.*"
                                                r"pip install 'upm-connector\[postgres\]' \(module upm_no_such_driver"):
        require("upm_no_such_driver", "postgres", "a PostgreSQL database")


def test_an_installed_extra_passes() -> None:
    require("trustme", "emulators", "the local salesforce emulator")
