-- The answer bytes of each run: received on the wire (compressed as they came) and decoded.
-- Their ratio is what asking for compressed answers saves. Older runs read 0.
ALTER TABLE etl_run ADD COLUMN bytes_wire bigint NOT NULL DEFAULT 0;
ALTER TABLE etl_run ADD COLUMN bytes_decoded bigint NOT NULL DEFAULT 0;
