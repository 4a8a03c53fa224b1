"""The public and staff sites: publication, disclosure control, masking, serving."""
