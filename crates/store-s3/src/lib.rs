//! benchkeep-store-s3: **not implemented yet.**
//!
//! This crate will keep runs and baselines in S3-compatible object storage, selected with
//! `--store s3://BUCKET/PREFIX`: create-only puts for runs, `If-Match` conditional puts for
//! baselines, and per-key listing that does not grow with other keys' runs. Until then [`open`]
//! returns [`StoreError::NotImplemented`], and the CLI reports that clearly.
//!
//! ```
//! let err = benchkeep_store_s3::open("bench/proj").unwrap_err();
//! assert!(err.to_string().contains("not implemented yet"));
//! ```
#![deny(missing_docs)]

use benchkeep_core::store::{Store, StoreError};

/// Opens an S3 store from the part of an `s3://` URL after the scheme. Not implemented yet.
pub fn open(spec: &str) -> Result<Box<dyn Store>, StoreError> {
    Err(StoreError::NotImplemented {
        store: "s3",
        what: format!("cannot open s3://{spec}; use the default file store (omit --store) for now"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn says_it_is_not_implemented() {
        let err = super::open("bench/proj").unwrap_err();
        assert!(err.to_string().contains("not implemented yet"), "{err}");
    }
}
