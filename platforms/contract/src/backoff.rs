//! Retry delays with jitter: TODO(helper A).
