-- Contact search ignores accents ("Lucia" finds "Lucía"). unaccent is a
-- trusted extension: the database owner may create it.
CREATE EXTENSION IF NOT EXISTS unaccent;
