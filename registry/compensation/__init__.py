"""Compensation: rules, the exact calculation, agreements and posting lists."""
