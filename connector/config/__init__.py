"""Configuration: one YAML file validated into typed settings, with environment overrides.

`load_settings()` is the only entry point; it raises `ConfigError` listing every problem at once.
"""

from connector.config.loader import ConfigError, ConfigProblem, load_settings
from connector.config.settings import Settings

__all__ = ["ConfigError", "ConfigProblem", "Settings", "load_settings"]
