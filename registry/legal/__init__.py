"""The lawful path of a household: publication rounds, objections, valuations, decisions."""
