-- A current row remembers the digest of the JSON text it was decoded from
-- (xxh3-128 of the job's text as listed, seeded with the version of the
-- decoder). A job listed again with the same text, byte for byte, is the
-- same content: ingest recognises it by the digest and does not decode or
-- hash it. NULL when the text is unknown (rows written before this
-- migration, imported or described jobs); such a job is decoded and
-- compared by its content hash, as before.
--
-- The digest is not part of the record: no view shows it, and it is never
-- trusted for anything but "this text was seen and stored".
ALTER TABLE copy_jobs ADD COLUMN text_digest bytea;

COMMENT ON COLUMN copy_jobs.text_digest IS
    'xxh3-128 of the JSON text this row was decoded from (seeded with the decoder''s version), '
    'so that the same text listed again is not decoded; NULL when unknown. Not part of the record.';

-- The digest stands for the content it was stored with. An update that
-- changes what the row records (its content hash: a re-hash, a job marked
-- gone; its hash version; its gone mark) forgets it, whoever makes the
-- update, so that the text can never vouch for content it did not produce.
CREATE FUNCTION copy_jobs_forget_text_digest() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.content_hash IS DISTINCT FROM OLD.content_hash
       OR NEW.hash_version IS DISTINCT FROM OLD.hash_version
       OR NEW.gone_at IS DISTINCT FROM OLD.gone_at THEN
        NEW.text_digest := NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER copy_jobs_forget_text_digest
    BEFORE UPDATE ON copy_jobs
    FOR EACH ROW
    WHEN (OLD.text_digest IS NOT NULL)
    EXECUTE FUNCTION copy_jobs_forget_text_digest();
