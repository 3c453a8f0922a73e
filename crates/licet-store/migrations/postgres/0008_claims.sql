-- Claims on counted resources of hosted tenants (a parking space, a gateway): one row
-- per (tenant, limit, resource), so a replayed claim is not counted twice, and a count
-- per (tenant, limit) moved in the same transaction by an UPDATE bounded by the limit,
-- so concurrent claims never pass it.
CREATE TABLE claims (
    tenant_id   TEXT        NOT NULL,
    feature     TEXT        NOT NULL,
    resource    TEXT        NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, feature, resource)
);
CREATE TABLE claim_counts (
    tenant_id  TEXT    NOT NULL,
    feature    TEXT    NOT NULL,
    claimed    BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, feature)
);
