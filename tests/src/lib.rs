//! Cross-crate end-to-end tests of benchkeep live in this package's `tests/` directory: the runner
//! measuring real commands, the file store keeping them, and the comparison engine judging them,
//! wired together through the public library APIs only (the CLI's own tests cover the binary).
#![deny(missing_docs)]
