"""Lead distribution: what happens to a lead once it is in the datastore."""
