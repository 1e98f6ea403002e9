//! The platforms compiled into this binary (one cargo feature each) and their configuration.

use hermes_platform::{Configured, PlatformConfig, SettingError};

use crate::config::Config;

/// Names of the platforms this build has.
pub fn compiled() -> Vec<&'static str> {
    vec![
        #[cfg(feature = "telegram")]
        "telegram",
        #[cfg(feature = "matrix")]
        "matrix",
        #[cfg(feature = "discord")]
        "discord",
    ]
}

/// Every configured platform, and every problem found in platform settings.
pub fn configure(config: &Config) -> (Vec<Box<dyn PlatformConfig>>, Vec<SettingError>) {
    let mut on: Vec<Box<dyn PlatformConfig>> = Vec::new();
    let mut problems = Vec::new();
    #[cfg(feature = "telegram")]
    match hermes_telegram::configure(&config.platform_settings("telegram")) {
        Configured::Off => {}
        Configured::On(c) => on.push(Box::new(c)),
        Configured::Invalid(mut errors) => problems.append(&mut errors),
    }
    #[cfg(feature = "matrix")]
    match hermes_matrix::configure(&config.platform_settings("matrix")) {
        Configured::Off => {}
        Configured::On(c) => on.push(Box::new(c)),
        Configured::Invalid(mut errors) => problems.append(&mut errors),
    }
    #[cfg(feature = "discord")]
    match hermes_discord::configure(&config.platform_settings("discord")) {
        Configured::Off => {}
        Configured::On(c) => on.push(Box::new(c)),
        Configured::Invalid(mut errors) => problems.append(&mut errors),
    }
    let _ = config;
    (on, problems)
}
