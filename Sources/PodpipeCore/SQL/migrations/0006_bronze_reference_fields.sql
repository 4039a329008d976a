-- bronze_reference.raw now keeps a CSV record as received, byte for byte (its bytes without
-- the line break that ends it; quotes, embedded line breaks and all). The record's fields,
-- as the JSON object {"column": "value"} in header order that raw held until now, move to
-- `fields`: what `podpipectl revalidate` and `reprocess` replay. It is NULL for a record that
-- could not be split into fields (record_too_long, unterminated_quote).
-- Rows loaded before this migration: their raw was that object; it is copied to fields (the
-- bytes as received were not kept and cannot be recovered).
ALTER TABLE bronze_reference ADD COLUMN fields TEXT;
UPDATE bronze_reference SET fields = raw;
