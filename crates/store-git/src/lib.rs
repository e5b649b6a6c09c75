//! benchkeep-store-git: **not implemented yet.**
//!
//! This crate will keep runs and baselines on an orphan branch (`benchkeep-data` by default) of
//! the team's own git repository, selected with `--store git:` or `--store git:BRANCH`: objects
//! built in memory with git2, compare-and-swap ref updates, and fetch/push through the git CLI.
//! Until then [`open`] returns [`StoreError::NotImplemented`], and the CLI reports that clearly.
//!
//! ```
//! let err = benchkeep_store_git::open("benchkeep-data").unwrap_err();
//! assert!(err.to_string().contains("not implemented yet"));
//! ```
#![deny(missing_docs)]

use benchkeep_core::store::{Store, StoreError};

/// Opens a git store from the part of a `git:` URL after the scheme. Not implemented yet.
pub fn open(spec: &str) -> Result<Box<dyn Store>, StoreError> {
    Err(StoreError::NotImplemented {
        store: "git",
        what: format!("cannot open git:{spec}; use the default file store (omit --store) for now"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn says_it_is_not_implemented() {
        let err = super::open("benchkeep-data").unwrap_err();
        assert!(err.to_string().contains("not implemented yet"), "{err}");
    }
}
