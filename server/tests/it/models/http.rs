//! The HTTP client against real local servers.
