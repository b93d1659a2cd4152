-- The hash of each field mapsync last wrote to an item (SQLite's schema
-- version 7): `key:hash` pairs by diff path (mapsync_core::diff::
-- encode_field_hashes), against which
-- drift (a field someone changed in the target since) is seen. Written by
-- a success with field hashes, cleared by one without, kept by a failure.
ALTER TABLE ledger ADD COLUMN fields TEXT;
