//! sorryfill
