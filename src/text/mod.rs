//! Small text matchers written here instead of pulled in as crates (the binary has a size
//! budget): a linear-time regex for search and command checks, shell-style globs, and the
//! threat scan of text bound for the system prompt.

pub mod glob;
pub mod regex;
pub mod threat;
