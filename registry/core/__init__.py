"""The registry's core: the survey definition, validation, the change log, the store."""
