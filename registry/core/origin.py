"""Origins: the id a database writes its own changes under, and its generations.

A database writes its changes as (origin, seq), the origin being its device id. A database put
back from a backup has lost the changes it made after that backup, and may have sent them away
already: reusing their seqs would make its next edits invisible to peers that hold the old ones
("0 changes") or clash with them. So a restored database takes a new generation of its origin,
`<device id>~<random>`: fresh seqs from 1 that no peer can already hold, under the same device
identity (keys, enrolment, the device directory). `device_of` gives the device back.
"""

from __future__ import annotations

import uuid

SEPARATOR = "~"


def new_generation(device_id: str) -> str:
    """A fresh origin for a device: never used before by any database."""
    return f"{device_id}{SEPARATOR}{uuid.uuid4().hex[:12]}"


def device_of(origin_id: str) -> str:
    """The device that writes changes under `origin_id` (itself for a first generation)."""
    return origin_id.split(SEPARATOR, 1)[0]
