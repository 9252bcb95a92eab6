//! cairn-unify: no code. Its dependencies (see `Cargo.toml`) make each
//! cairn binary resolve the same features of the dependencies they share,
//! so that one build serves every `cargo run -p ...`.
