-- API keys of mediators: `principal_kind` may be 'mediator' (with the mediator's id in
-- `party_id`). The CHECK of 0002 was declared on the column, so PostgreSQL named it; it is
-- looked up by what it checks rather than by that name, dropped, and added again wider.
DO $$
DECLARE
    con TEXT;
BEGIN
    FOR con IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = 'api_keys'::regclass
          AND contype = 'c'
          AND pg_get_constraintdef(oid) LIKE '%principal_kind%'
    LOOP
        EXECUTE format('ALTER TABLE api_keys DROP CONSTRAINT %I', con);
    END LOOP;
END
$$;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_principal_kind_check
    CHECK (principal_kind IN ('platform', 'buyer', 'seller', 'mediator'));
