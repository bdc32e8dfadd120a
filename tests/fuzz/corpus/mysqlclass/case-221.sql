SELECT 1 /*! # */
, SLEEP(1) */