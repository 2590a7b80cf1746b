//! The pg_dump archive reader (being written).
