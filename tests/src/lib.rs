//! Workspace-level end-to-end tests (the built plugin in real hosts) live in `tests/`; they arrive with the plugin.
