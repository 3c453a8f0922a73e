-- License sequences come from one counter for the whole server, reserved in blocks:
-- a replica reserves a block with one committed UPDATE and hands its numbers out from
-- memory, so a refresh commits nothing. Every reservation starts above every number
-- reserved before it, by any replica, before or after a crash, so a number is never
-- handed out twice and a fresh reservation is above anything a device can hold.
-- `devices.license_sequence` becomes what the device last reported holding.
CREATE TABLE license_sequences (
    id   SMALLINT PRIMARY KEY CHECK (id = 1),
    high BIGINT   NOT NULL
);
INSERT INTO license_sequences (id, high)
SELECT 1, COALESCE(MAX(license_sequence), 0) FROM devices;
