-- Parties: buyers and sellers as objects of one mode, with ids chosen by the platform.
CREATE TABLE parties (
    kind TEXT NOT NULL CHECK (kind IN ('buyer', 'seller')),
    livemode INTEGER NOT NULL,
    id TEXT NOT NULL CHECK (length(id) BETWEEN 1 AND 32),
    created_at INTEGER NOT NULL,
    country TEXT NOT NULL,
    region TEXT,
    phone_verified INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    ship_by_days INTEGER CHECK (ship_by_days BETWEEN 3 AND 10),
    commission_bps INTEGER CHECK (commission_bps BETWEEN 0 AND 10000),
    commission_fixed INTEGER CHECK (commission_fixed >= 0),
    commission_currency TEXT,
    PRIMARY KEY (kind, livemode, id)
) STRICT;

-- A revoked API key is refused from then on.
ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;
