"""Packs: the files that carry changes between laptops and the central registry on USB sticks.

A pack is a header in clear (format, project id, device id, schema version, nonce), then frames
encrypted with the project key (AES-256-GCM; each frame's number is in its nonce and associated
data, so frames cannot be dropped, swapped or replayed), an end mark, the making device's
Ed25519 signature and a SHA-256 checksum of everything before it. The frames hold, compressed:
the sender's meta (holdings, and from the central registry its settings, survey definition and
device directory), changes, blobs, and last a manifest (counts and the content hash). Without
the project key nothing in a pack is readable; without a device's key no pack can be forged.

`open_pack` checks everything that can be checked before decrypting and raises `PackError`
with the reason; `Pack.frames()` then streams the decrypted frames one at a time, so a pack of
any size merges in bounded memory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from anju.registry.compensation.rules import export_versions
from anju.registry.core import surveys
from anju.registry.core.changes import dumps, now
from anju.registry.core.errors import AnjuError
from anju.registry.core.i18n import N_
from anju.registry.core.store import SCHEMA_VERSION, Registry
from anju.registry.sync import central_meta, enrollment
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"ANJUPACK"
FORMAT = 1
SIGN_DOMAIN = b"anju pack v1\x00"
FRAME_CHANGES = 2000          # changes per frame: bounded memory on both sides
FRAME_BLOB_BYTES = 4 << 20    # blob bytes per frame
TRAILER = 64 + 32             # signature + checksum
CHUNK = 1 << 20


class PackError(AnjuError):
    """A pack that cannot be merged; the message is the one-line reason.

    `code` names the reason for people (registry.sync.wording turns it into a Chinese sentence
    a clerk can act on) and `params` holds the details the sentence needs.
    """

    zh = N_("数据包无法使用：%(detail)s")

    def __init__(self, message: str, code: str = "damaged", **params):
        super().__init__(message, code, **params)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class PackWriter:
    """Writes one pack file frame by frame (to FILE.part, renamed into place when complete)."""

    def __init__(self, path: str | Path, *, project_id: str, device_id: str,
                 signer: Ed25519PrivateKey, key: bytes, schema_version: int = SCHEMA_VERSION):
        self.path = Path(path)
        self.part = self.path.with_name(self.path.name + ".part")
        self.signer = signer
        self.aead = AESGCM(key)
        self.prefix = os.urandom(8)
        header = dumps({"format": FORMAT, "project_id": project_id, "device_id": device_id,
                        "schema_version": schema_version, "nonce": _b64(self.prefix)}).encode()
        self.aad = hashlib.sha256(header).digest()
        self.hash = hashlib.sha256()
        self.content = hashlib.sha256()
        self.index = 0
        self.fh = open(self.part, "wb")  # noqa: SIM115 -- closed in finish/abort
        self._write(MAGIC + struct.pack(">BI", FORMAT, len(header)) + header)

    def _write(self, data: bytes) -> None:
        self.hash.update(data)
        self.fh.write(data)

    def frame(self, obj: dict, *, content: bool = True) -> None:
        """Encrypt and append one frame."""
        plain = dumps(obj).encode()
        if content:
            self.content.update(plain)
        counter = struct.pack(">I", self.index)
        sealed = self.aead.encrypt(self.prefix + counter, zlib.compress(plain, 6),
                                   self.aad + counter)
        self._write(struct.pack(">I", len(sealed)) + sealed)
        self.index += 1

    def finish(self, manifest: dict) -> dict:
        """Append the manifest, end mark, signature and checksum; move the file into place."""
        manifest = {**manifest, "content_hash": self.content.hexdigest()}
        self.frame({"t": "manifest", **manifest}, content=False)
        self._write(struct.pack(">I", 0))
        self._write(self.signer.sign(SIGN_DOMAIN + self.hash.digest()))
        self.fh.write(self.hash.digest())
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.part, self.path)
        return manifest

    def abort(self) -> None:
        """Remove the half-written file (also when closing it fails: a full disk fails the
        last buffered write, and the .part must still go)."""
        try:
            self.fh.close()
        except OSError:
            pass
        finally:
            self.part.unlink(missing_ok=True)


def holdings(reg: Registry) -> dict[str, int]:
    """For each device, the highest seq up to which this database holds all its changes."""
    out = {}
    rows = reg.conn.execute("SELECT device_id, MAX(seq), COUNT(*) FROM change "
                            "GROUP BY device_id").fetchall()
    for device_id, top, count in rows:
        if top == count:
            out[device_id] = top
            continue
        expect = 1  # a gap (a change not received yet): only the unbroken start counts
        for (seq,) in reg.conn.execute("SELECT seq FROM change WHERE device_id = ? ORDER BY seq",
                                       (device_id,)):
            if seq != expect:
                break
            expect += 1
        out[device_id] = expect - 1
    return out


def receiver_holdings(reg: Registry) -> dict[str, int] | None:
    """What the receivers of this database's next pack are known to hold (None: nothing).

    A laptop sends to the central registry; the central registry's pack goes to every active
    laptop, so it holds what the laptop knowing least lacks.
    """
    def marks(device_id: str) -> dict[str, int]:
        return dict(reg.conn.execute("SELECT origin, seq FROM export_bookmark "
                                     "WHERE device_id = ?", (device_id,)).fetchall())
    if reg.meta("role") != "central":
        central = reg.meta("central_device_id")
        return marks(central) if central else None
    peers = [r[0] for r in reg.conn.execute(
        "SELECT device_id FROM device WHERE revoked_at IS NULL AND device_id != ?",
        (reg.device_id,))]
    if not peers:
        return None
    known = [marks(p) for p in peers]
    origins = set().union(*known)
    return {o: min(k.get(o, 0) for k in known) for o in origins}


def export_pack(reg: Registry, out: str | Path, *, full: bool = False,
                progress: Callable[[int], None] | None = None) -> dict:
    """Write a pack of the changes the receiver lacks (or all with `full`); return its manifest."""
    out = Path(out)
    if not out.parent.is_dir():
        raise PackError(f"{out.parent}: no such directory", "no_folder")
    marks = None if full else receiver_holdings(reg)
    started = now()  # changes received before this are in the pack (the web app's banner)
    writer = PackWriter(out, project_id=reg.project_id, device_id=reg.device_id,
                        signer=enrollment.signing_key(reg), key=enrollment.project_key(reg))
    try:
        reg.conn.execute("CREATE TEMP TABLE IF NOT EXISTS export_mark "
                         "(origin TEXT PRIMARY KEY, seq INTEGER)")
        reg.conn.execute("DELETE FROM temp.export_mark")
        reg.conn.executemany("INSERT INTO temp.export_mark VALUES (?, ?)",
                             list((marks or {}).items()))
        where = ("LEFT JOIN temp.export_mark m ON m.origin = c.device_id "
                 "WHERE c.seq > COALESCE(m.seq, 0)")
        total = reg.conn.execute(f"SELECT count(*) FROM change c {where}").fetchone()[0]
        meta = {"t": "meta", "role": reg.meta("role"), "device_name": reg.meta("device_name"),
                "have": holdings(reg), "changes": total, "made_at": started,
                **central_meta.state(reg)}
        if reg.meta("role") == "central":
            meta.update(settings=reg.settings, survey=reg.meta("survey"),
                        surveys=surveys.texts(reg),
                        compensation=reg.meta("compensation"),
                        rules_versions=export_versions(reg),
                        devices=enrollment.devices(reg))
        writer.frame(meta)
        cur = reg.conn.execute(
            "SELECT c.change_id, c.device_id, c.seq, c.record_type, c.record_id, c.fields, "
            f"c.base, c.at, c.by, c.note, c.hlc, c.prev, c.sig FROM change c {where} "
            "ORDER BY c.record_id, c.at")
        counts: dict[str, int] = {}
        shas: set[str] = set()
        while rows := cur.fetchmany(FRAME_CHANGES):
            for r in rows:
                counts[r[3]] = counts.get(r[3], 0) + 1
                if r[3] == "attachment" and '"sha256"' in r[5]:
                    sha = json.loads(r[5]).get("sha256")
                    if isinstance(sha, str):
                        shas.add(sha)
            writer.frame({"t": "changes", "c": [list(r) for r in rows]})
            if progress:
                progress(len(rows))
        blobs = _write_blobs(reg, writer, None if full else shas)
        manifest = writer.finish({
            "project_id": reg.project_id, "device_id": reg.device_id,
            "device_name": reg.meta("device_name"), "role": reg.meta("role"),
            "schema_version": SCHEMA_VERSION, "definition_hash": reg.definition.hash,
            "definition_version": reg.definition.version, "full": bool(full or marks is None),
            "made_at": now(), "counts": {"changes": sum(counts.values()), "blobs": blobs,
                                         "by_record_type": counts}})
    except BaseException:
        writer.abort()
        raise
    finally:
        reg.conn.execute("DROP TABLE IF EXISTS temp.export_mark")
    reg.set_meta("last_export_at", started)
    return manifest


def _write_blobs(reg: Registry, writer: PackWriter, shas: set[str] | None) -> int:
    """Append the blobs that the exported attachments refer to (all blobs for a full pack)."""
    if shas is None:
        cur = reg.conn.execute("SELECT sha256, mime, size, data FROM blob ORDER BY sha256")
    else:
        reg.conn.execute("CREATE TEMP TABLE IF NOT EXISTS export_blob (sha256 TEXT PRIMARY KEY)")
        reg.conn.execute("DELETE FROM temp.export_blob")
        reg.conn.executemany("INSERT INTO temp.export_blob VALUES (?)", [(s,) for s in shas])
        cur = reg.conn.execute("SELECT b.sha256, b.mime, b.size, b.data FROM blob b "
                               "JOIN temp.export_blob e USING (sha256) ORDER BY b.sha256")
    count, batch, size = 0, [], 0
    for sha, mime, length, data in cur:
        batch.append([sha, mime, length, _b64(bytes(data))])
        size += length
        count += 1
        if size >= FRAME_BLOB_BYTES:
            writer.frame({"t": "blobs", "b": batch})
            batch, size = [], 0
    if batch:
        writer.frame({"t": "blobs", "b": batch})
    reg.conn.execute("DROP TABLE IF EXISTS temp.export_blob")
    return count


class Pack:
    """An opened pack whose outer checks passed: header, checksum, device and signature."""

    def __init__(self, path: Path, header: dict, start: int, device: dict, key: bytes):
        self.path = path
        self.header = header
        self.device = device          # the signing device: device_id, name, role, revoked_at
        self.start = start
        self.key = key
        self.size = path.stat().st_size
        self.manifest: dict | None = None
        self.content_hash: str | None = None

    def frames(self, progress: Callable[[int], None] | None = None) -> Iterator[dict]:
        """Decrypt and yield the content frames in order, then check the manifest."""
        aead = AESGCM(self.key)
        prefix = base64.b64decode(self.header["nonce"])
        aad = hashlib.sha256(self._header_bytes).digest()
        content = hashlib.sha256()
        counts = {"changes": 0, "blobs": 0}
        with open(self.path, "rb") as fh:
            fh.seek(self.start)
            index = 0
            while True:
                (length,) = struct.unpack(">I", fh.read(4))
                if length == 0:
                    break
                sealed = fh.read(length)
                counter = struct.pack(">I", index)
                try:
                    plain = zlib.decompress(aead.decrypt(prefix + counter, sealed,
                                                         aad + counter))
                    obj = json.loads(plain)
                except InvalidTag:
                    raise PackError("cannot decrypt: not made with this project's key",
                                    "wrong_key") from None
                except (zlib.error, ValueError):
                    raise PackError(f"frame {index} is not readable") from None
                if progress:
                    progress(length + 4)
                index += 1
                if not isinstance(obj, dict):
                    raise PackError(f"frame {index} is not readable")
                if obj.get("t") == "manifest":
                    self.manifest = obj
                    continue
                if self.manifest is not None:
                    raise PackError("frames after the manifest")
                content.update(plain)
                if obj.get("t") == "changes":
                    counts["changes"] += len(obj.get("c") or ())
                elif obj.get("t") == "blobs":
                    counts["blobs"] += len(obj.get("b") or ())
                yield obj
        m = self.manifest
        if m is None:
            raise PackError("no manifest")
        self.content_hash = content.hexdigest()
        if m.get("content_hash") != self.content_hash:
            raise PackError("content hash does not match the manifest")
        if (m.get("project_id"), m.get("device_id")) != (self.header["project_id"],
                                                         self.header["device_id"]):
            raise PackError("manifest does not match the header")
        stated = m.get("counts") or {}
        if (stated.get("changes"), stated.get("blobs")) != (counts["changes"], counts["blobs"]):
            raise PackError(f"counts do not match the manifest ({counts['changes']} changes, "
                            f"{counts['blobs']} blobs read)")

    @property
    def _header_bytes(self) -> bytes:
        return dumps(self.header).encode()


def open_pack(reg: Registry, path: str | Path) -> Pack:
    """Open a pack for merging into `reg`; PackError with the reason if it must be refused."""
    path = Path(path)
    try:
        size = path.stat().st_size
        fh = open(path, "rb")  # noqa: SIM115 -- closed below
    except FileNotFoundError:
        raise PackError("no such file", "unreadable") from None
    except IsADirectoryError:
        raise PackError("is a directory, not a pack", "not_pack") from None
    except OSError as exc:
        raise PackError(f"cannot read ({exc.strerror})", "unreadable") from None
    with fh:
        if size == 0:
            raise PackError("empty file, not a pack", "empty")
        head = fh.read(13)
        if head[:8] != MAGIC:
            if MAGIC.startswith(head):
                raise PackError(f"truncated ({size} bytes; the pack is incomplete)", "truncated",
                                size=size)
            raise PackError("not an anju pack", "not_pack")
        if len(head) < 13:
            raise PackError(f"truncated ({size} bytes)", "truncated", size=size)
        fmt, hlen = struct.unpack(">BI", head[8:13])
        if not _checksum_ok(fh, size):
            reason = _damage(fh, size, hlen)
            raise PackError(reason, "truncated" if reason.startswith("truncated") else "damaged",
                            size=size)
        fh.seek(13)
        raw = fh.read(hlen)
    try:
        header = json.loads(raw)
        assert isinstance(header, dict)
    except (ValueError, AssertionError):
        raise PackError("damaged header") from None
    if fmt > FORMAT or header.get("format", 0) > FORMAT:
        raise PackError(f"made by a newer anju (pack format {max(fmt, header.get('format'))}); "
                        "upgrade anju", "newer")
    if dumps(header).encode() != raw:
        raise PackError("damaged header")
    if header.get("project_id") != reg.project_id:
        raise PackError(f"belongs to another project ({header.get('project_id')}), "
                        f"not {reg.meta('project_name') or reg.project_id}", "other_project",
                        project=reg.meta("project_name") or reg.project_id)
    known = enrollment.public_key(reg, str(header.get("device_id")))
    if known is None:
        raise PackError(f"made by an unknown device {header.get('device_id')}; enrol it first",
                        "unknown_device", device=str(header.get("device_id"))[:40])
    verifier, device = known
    if device["revoked_at"]:
        raise PackError(f"made by device {device['name']}, revoked at {device['revoked_at']}",
                        "revoked", device=device["name"], at=device["revoked_at"])
    with open(path, "rb") as fh:
        body = _hash_range(fh, 0, size - TRAILER)
        signature = fh.read(64)
    try:
        verifier.verify(signature, SIGN_DOMAIN + body.digest())
    except InvalidSignature:
        raise PackError(f"signature check failed: altered, or not made by {device['name']}",
                        "signature", device=device["name"]) from None
    version = header.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise PackError(f"made with a newer schema version ({version} > {SCHEMA_VERSION}); "
                        "upgrade anju", "newer")
    return Pack(path, header, 13 + hlen, device, enrollment.project_key(reg))


def _hash_range(fh, start: int, end: int):
    fh.seek(start)
    h = hashlib.sha256()
    left = end - start
    while left > 0:
        data = fh.read(min(CHUNK, left))
        if not data:
            break
        h.update(data)
        left -= len(data)
    return h


def _checksum_ok(fh, size: int) -> bool:
    if size < 13 + TRAILER:
        return False
    h = _hash_range(fh, 0, size - 32)
    return h.digest() == fh.read(32)


def _damage(fh, size: int, hlen: int) -> str:
    """Why the checksum failed: a pack cut short, or bytes changed."""
    offset = 13 + hlen
    while True:
        if offset + 4 > size:
            return f"truncated ({size} bytes; the pack is incomplete)"
        fh.seek(offset)
        (length,) = struct.unpack(">I", fh.read(4))
        offset += 4
        if length == 0:
            if size - offset < TRAILER:
                return f"truncated ({size} bytes; the pack is incomplete)"
            return "damaged or altered (checksum mismatch)"
        if offset + length > size:
            return f"truncated ({size} bytes; the pack is incomplete)"
        offset += length
