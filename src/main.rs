mod agent;
mod clock;
mod config;
mod store;
mod tools;
#[cfg(test)]
mod test_util;

fn main() {}
