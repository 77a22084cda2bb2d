-- A third role, `viewer` (DESIGN.md, *API*): reads everything an admin can read and changes
-- nothing. Only the CHECK on api_keys.role changes; rows and indexes stay.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys
    ADD CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'viewer', 'monitor'));
