//! Offline OSV advisories (being written).
