//! Empty: it exists so that `[build-dependencies]` in Cargo.toml take part in host feature
//! resolution (see Cargo.toml).
fn main() {}
