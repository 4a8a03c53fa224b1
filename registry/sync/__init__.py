"""Moving changes between databases: enrolment, packs, merge, conflicts, recovery."""
