-- cairn ledger schema, version 1 (docs/operations.md, "Running cairn
-- highly available"). Applied by the ledger on start, in one transaction.
CREATE TABLE cairn_schema (
    version integer NOT NULL
);
INSERT INTO cairn_schema (version) VALUES (1);

-- The size of the committed tree: one row, updated by every commit in the
-- same transaction as the entries (a commit that does not continue it is
-- refused).
CREATE TABLE log_head (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    size bigint NOT NULL CHECK (size >= 0)
);
INSERT INTO log_head (size) VALUES (0);

CREATE TABLE entries (
    idx bigint PRIMARY KEY CHECK (idx >= 0),
    bytes bytea NOT NULL,
    leaf_hash bytea NOT NULL UNIQUE CHECK (length(leaf_hash) = 32)
);

CREATE TABLE nodes (
    level smallint NOT NULL CHECK (level BETWEEN 0 AND 63),
    idx bigint NOT NULL CHECK (idx >= 0),
    hash bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

CREATE TABLE checkpoints (
    size bigint PRIMARY KEY CHECK (size > 0),
    note text NOT NULL
);

CREATE TABLE idempotency (
    gate text NOT NULL,
    key text NOT NULL,
    idx bigint NOT NULL,
    PRIMARY KEY (gate, key)
);

CREATE TABLE key_events (
    idx bigint PRIMARY KEY,
    registered boolean NOT NULL,
    role text NOT NULL,
    key_ref text NOT NULL,
    vkey text NOT NULL
);

CREATE TABLE bundles (
    hash bytea PRIMARY KEY CHECK (length(hash) = 32),
    idx bigint NOT NULL
);

-- The sequencer lease (docs/operations.md, "Running cairn highly
-- available"): one row. An instance takes it under the next epoch once it
-- has expired; every commit checks, in its transaction, that its epoch is
-- still the row's and unexpired.
CREATE TABLE sequencer_lease (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    epoch bigint NOT NULL CHECK (epoch >= 0),
    holder text NOT NULL,
    leader_url text,
    expires_at timestamptz NOT NULL
);
INSERT INTO sequencer_lease (epoch, holder, expires_at) VALUES (0, '', '-infinity');

-- The log key that signs this database's checkpoints (its verifier key).
CREATE TABLE log_identity (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    vkey text NOT NULL
);
