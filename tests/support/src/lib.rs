//! Test support: TODO(helper B).
