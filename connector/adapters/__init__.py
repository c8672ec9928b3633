"""CRM adapters: one module per CRM, each talking through the CRM's real client library.

Adapters are found through the `upm_connector.adapters` entry-point group, so a third CRM is one
module plus one line in pyproject.toml. The contract is `connector.adapters.base.CrmAdapter`.
"""
