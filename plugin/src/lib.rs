//! Placeholder: the plugin lands with the plugin issue.
