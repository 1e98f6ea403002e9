//! Helpers shared by the integration tests (each test file includes this module).
#![allow(dead_code)] // not every test file uses every helper

use std::path::Path;

use hermes_testkit::User;

/// The gateway binary cargo built for these tests.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_hermes-lite"))
}

/// The allowlisted user most tests talk as.
pub fn ann() -> User {
    User::new(42, "Ann")
}
