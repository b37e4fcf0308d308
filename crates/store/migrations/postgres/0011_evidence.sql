-- Evidence files of disputes: one row per file a party added to a dispute. The content is kept
-- by SHA-256 in the file store, outside the database (the same content once, however many rows
-- name it). `dispute_id` names the dispute without a foreign key: disputes come in a migration
-- of their own.
CREATE TABLE evidence_files (
    id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    livemode BOOLEAN NOT NULL,
    dispute_id TEXT NOT NULL CHECK (length(dispute_id) BETWEEN 1 AND 64),
    uploader_role TEXT NOT NULL CHECK (uploader_role IN ('buyer', 'seller', 'mediator', 'platform')),
    uploader_id TEXT NOT NULL CHECK (length(uploader_id) BETWEEN 1 AND 64),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    kind TEXT NOT NULL CHECK (kind IN ('jpeg', 'png', 'webp', 'mp4', 'pdf')),
    size BIGINT NOT NULL CHECK (size > 0),
    file_name TEXT NOT NULL CHECK (length(file_name) BETWEEN 1 AND 100),
    created_at BIGINT NOT NULL
);

-- A dispute's files in the order they came.
CREATE INDEX evidence_files_by_dispute ON evidence_files (dispute_id, created_at, id);

-- The same content from the same uploader is one file of the dispute (a retried upload).
CREATE UNIQUE INDEX evidence_files_once
    ON evidence_files (dispute_id, uploader_role, uploader_id, sha256);
