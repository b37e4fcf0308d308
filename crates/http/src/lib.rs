//! The holdback HTTP API.
