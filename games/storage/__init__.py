"""The database's side: the event log and the games' rows (store), the thread every process
commits through in groups (journal), and Play now's pool, where seeks wait and the database pairs
them (pool). The database is the arbiter between processes: an append succeeds only from the
sequence number it was decided against, and a pairing holds its pool's lock."""
