//! Message splitting (M31): TODO(helper A).

use crate::adapter::LenUnit;

/// Splits `text` into parts no longer than `limit` units.
pub fn split_message(text: &str, _limit: usize, _unit: LenUnit) -> Vec<String> {
    vec![text.to_string()]
}
