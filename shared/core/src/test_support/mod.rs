//! For tests, benchmarks and the developer CLI only (the `test-support` feature): never in a
//! Lambda binary. Signed interactions as Discord sends them.

pub mod interactions;
