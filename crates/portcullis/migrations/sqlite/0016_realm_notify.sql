-- PostgreSQL's 0016 announces every change to a realm row to the other nodes. One process owns
-- a SQLite file and polls the realm versions: nothing to add here (kept in step by number).
SELECT 1;
