//! Small text matchers written here instead of pulled in as crates (the binary has a size
//! budget): a linear-time regex for search and command checks, and shell-style globs.

pub mod glob;
pub mod regex;
