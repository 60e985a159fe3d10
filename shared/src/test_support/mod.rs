//! For tests, benchmarks and the developer CLI only (the `test-support` feature): never in a
//! Lambda binary.

pub mod interactions;
