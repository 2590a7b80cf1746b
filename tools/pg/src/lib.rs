//! Reaching PostgreSQL as libpq does (being written).
