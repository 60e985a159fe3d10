//! For tests, benchmarks and the developer CLI only (the `test-support` feature): never in a
//! Lambda binary. Signed interactions as Discord sends them, and clients of moto's server.

pub mod interactions;
#[cfg(feature = "aws")]
pub mod moto;
