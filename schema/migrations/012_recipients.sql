-- Packs sealed per recipient and laptops limited to a scope (docs/design.md, "Recipients and
-- scopes"). A device's X25519 public key (base64): packs for it wrap their content key to it.
ALTER TABLE device ADD COLUMN box_key TEXT;
-- What a laptop may receive (JSON {"zones": [...], "teams": [...]}); null: the whole project.
ALTER TABLE device ADD COLUMN scope TEXT;
-- Goes up by one at each scope change, so a replayed old directory never brings back an old scope.
ALTER TABLE device ADD COLUMN scope_version INTEGER NOT NULL DEFAULT 0;
-- Central: the households whose history a laptop's scoped packs have carried (a household not
-- listed, and in scope, is "entering" and is sent whole).
CREATE TABLE scope_sent (
    device_id TEXT NOT NULL,
    household_id TEXT NOT NULL,
    PRIMARY KEY (device_id, household_id)
) WITHOUT ROWID;
-- Laptop: the households of its scope as the newest central pack listed them, and that pack's
-- serial (a replayed older pack does not roll the list back).
CREATE TABLE scope_held (
    household_id TEXT PRIMARY KEY
) WITHOUT ROWID;
-- The shared project key sealed the packs of format 1, which are no longer read: a stolen
-- database must not hold a key that opens old packs left on USB sticks.
DELETE FROM keyring WHERE name = 'project_key';
