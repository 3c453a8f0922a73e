-- Licet server schema (SQLite). Every tenant-owned table carries tenant_id.
-- JSON documents are TEXT and times are TEXT (sqlx encodes them), so both backends
-- share one row mapping.

CREATE TABLE catalogs (
    product_id  TEXT        NOT NULL,
    version     TEXT        NOT NULL,
    revision    INTEGER      NOT NULL,
    source      TEXT        NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (product_id, version),
    UNIQUE (product_id, revision)
);

CREATE TABLE tenants (
    id          TEXT        PRIMARY KEY,
    name        TEXT        NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE subscriptions (
    id                TEXT        PRIMARY KEY,
    tenant_id         TEXT        NOT NULL REFERENCES tenants (id),
    product_id        TEXT        NOT NULL,
    plan              TEXT        NOT NULL,
    addons            TEXT        NOT NULL,
    trial             INTEGER     NOT NULL,
    modules           TEXT,
    status            TEXT        NOT NULL,
    license_key_hash  TEXT        NOT NULL UNIQUE,
    license_key_hint  TEXT        NOT NULL,
    trial_started_at  TEXT,
    term_ends_at      TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id);

CREATE TABLE devices (
    id                 TEXT        PRIMARY KEY,
    tenant_id          TEXT        NOT NULL REFERENCES tenants (id),
    subscription_id    TEXT        NOT NULL REFERENCES subscriptions (id),
    name               TEXT        NOT NULL,
    fingerprint        TEXT        NOT NULL,
    public_key         TEXT,
    hardware           TEXT        NOT NULL,
    status             TEXT        NOT NULL,
    license_sequence   INTEGER      NOT NULL DEFAULT 0,
    last_heartbeat_at  TEXT,
    agent_version      TEXT,
    running_modules    TEXT        NOT NULL DEFAULT '[]',
    metrics            TEXT        NOT NULL DEFAULT '{}',
    created_at         TEXT NOT NULL
);
CREATE INDEX devices_tenant ON devices (tenant_id);
-- One active device per fingerprint and subscription; the device limit itself is
-- enforced in the activation transaction, under a row lock on the subscription.
CREATE UNIQUE INDEX devices_active_fingerprint ON devices (subscription_id, fingerprint) WHERE status = 'active';

CREATE TABLE cameras (
    tenant_id   TEXT        NOT NULL,
    device_id   TEXT        NOT NULL REFERENCES devices (id),
    camera_id   TEXT        NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    PRIMARY KEY (device_id, camera_id)
);

CREATE TABLE credentials (
    id           TEXT        PRIMARY KEY,
    kind         TEXT        NOT NULL,
    tenant_id    TEXT,
    device_id    TEXT,
    scopes       TEXT        NOT NULL,
    secret_hash  TEXT        NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT
);
CREATE INDEX credentials_device ON credentials (device_id);

CREATE TABLE signing_keys (
    key_id      TEXT        PRIMARY KEY,
    public_key  TEXT        NOT NULL,
    created_at  TEXT NOT NULL
);
