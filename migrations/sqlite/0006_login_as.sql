-- A sign-in waiting for its second factor may be one that will act as another user
-- ("Login as"): the user it will act as, checked again when the code is right.
ALTER TABLE challenges ADD COLUMN acting_as_id INTEGER REFERENCES users (id);
