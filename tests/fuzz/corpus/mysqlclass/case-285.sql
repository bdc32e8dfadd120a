SELECT 1;
-- comment line
DROP TABLE t;