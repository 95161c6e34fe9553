//! Integration tests of the `lean-sim` binary, driven over pipes like an editor would.

mod behaviour;
mod conformance;
mod corpus;
mod faults;
mod real_lean;
mod support;
