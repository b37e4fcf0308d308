-- Test and live never mix: a carrier's tracking numbers, its event ids, and its remittance
-- batches and files are unique within one mode, so that nothing done in test mode can block,
-- or be found by, live mode. A carrier's events gain their mode (that of the parcel they name;
-- test mode when none does).
ALTER TABLE parcels DROP CONSTRAINT parcels_carrier_tracking_key;
ALTER TABLE parcels ADD CONSTRAINT parcels_carrier_mode_tracking_key
    UNIQUE (carrier, livemode, tracking);

ALTER TABLE parcel_events ADD COLUMN livemode BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE parcel_events e SET livemode = p.livemode
FROM parcels p WHERE p.carrier = e.carrier AND p.tracking = e.tracking;
ALTER TABLE parcel_events ALTER COLUMN livemode DROP DEFAULT;
ALTER TABLE parcel_events DROP CONSTRAINT parcel_events_pkey;
ALTER TABLE parcel_events ADD PRIMARY KEY (carrier, livemode, event_id);

ALTER TABLE remittances DROP CONSTRAINT remittances_carrier_batch_key;
ALTER TABLE remittances DROP CONSTRAINT remittances_carrier_file_sha256_key;
ALTER TABLE remittances ADD CONSTRAINT remittances_carrier_mode_batch_key
    UNIQUE (carrier, livemode, batch);
ALTER TABLE remittances ADD CONSTRAINT remittances_carrier_mode_file_key
    UNIQUE (carrier, livemode, file_sha256);
