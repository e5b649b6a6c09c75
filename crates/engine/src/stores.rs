//! Choosing a store from a URL.

use std::path::{Path, PathBuf};

use benchkeep_core::store::{Store, StoreError};
use benchkeep_store_fs::FsStore;

use crate::Error;

fn opened(source: StoreError) -> Error {
    Error::store("cannot open the store", source)
}

/// Where a store URL came from, which decides how relative paths resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlOrigin<'a> {
    /// `--store` or `BENCHKEEP_STORE`: relative to the current directory.
    CommandLine,
    /// `store = ...` in the configuration file: relative to the file's directory.
    ConfigFile(&'a Path),
}

/// The default store directory: `.benchkeep/` at the repository root, or in `cwd` outside git.
#[must_use]
pub fn default_store_dir(cwd: &Path, repo_root: Option<&Path>) -> PathBuf {
    repo_root.unwrap_or(cwd).join(".benchkeep")
}

/// Opens the store named by `url`, or the default store when `url` is `None`.
///
/// The default directory is created on first use. An explicit `file://` directory must exist:
/// a typo in a URL should be an error, not a fresh empty store that makes every check bootstrap.
pub fn open(
    url: Option<(&str, UrlOrigin<'_>)>,
    cwd: &Path,
    repo_root: Option<&Path>,
) -> Result<Box<dyn Store>, Error> {
    let Some((url, origin)) = url else {
        let dir = default_store_dir(cwd, repo_root);
        return Ok(Box::new(FsStore::open_or_create(&dir).map_err(opened)?));
    };
    if let Some(path) = url.strip_prefix("file://") {
        if path.is_empty() {
            return Err(Error::Invalid(format!(
                "store URL {url:?} names no directory: use file://PATH"
            )));
        }
        let base = match origin {
            UrlOrigin::CommandLine => cwd,
            UrlOrigin::ConfigFile(dir) => dir,
        };
        let dir = base.join(path);
        return match FsStore::open(&dir) {
            Ok(store) => Ok(Box::new(store)),
            Err(StoreError::NotFound { .. }) => Err(Error::Invalid(format!(
                "store directory {} does not exist (from {url:?}): create it, or {} to use .benchkeep/ (created on first use)",
                dir.display(),
                match origin {
                    UrlOrigin::CommandLine => "omit --store (and BENCHKEEP_STORE)",
                    UrlOrigin::ConfigFile(_) => "remove `store` from benchkeep.toml",
                }
            ))),
            Err(e) => Err(opened(e)),
        };
    }
    if let Some(spec) = url.strip_prefix("git:") {
        #[cfg(feature = "git")]
        {
            let base = match origin {
                UrlOrigin::CommandLine => cwd,
                UrlOrigin::ConfigFile(dir) => dir,
            };
            return benchkeep_store_git::open(spec, base).map_err(opened);
        }
        #[cfg(not(feature = "git"))]
        {
            let _ = spec;
            return Err(not_built_in("git"));
        }
    }
    if let Some(spec) = url.strip_prefix("s3://") {
        #[cfg(feature = "s3")]
        return benchkeep_store_s3::open(spec).map_err(opened);
        #[cfg(not(feature = "s3"))]
        {
            let _ = spec;
            return Err(not_built_in("s3"));
        }
    }
    Err(Error::Invalid(format!(
        "unsupported store URL {:?}: expected file://PATH, git:[BRANCH] or s3://BUCKET/PREFIX",
        benchkeep_core::store::redact_userinfo(url)
    )))
}

impl crate::Session {
    /// `benchkeep store check`: tries, now, the promises the store's correctness rests on
    /// (for S3, conditional writes and listings; a passing probe is recorded for a day) and
    /// says what held.
    ///
    /// # Errors
    ///
    /// The store cannot be opened or reached.
    pub fn check_store(&self) -> Result<(String, Vec<benchkeep_core::store::Guarantee>), Error> {
        let store = self.store()?;
        let found = self
            .block_on(store.check_guarantees())
            .map_err(|e| Error::store("cannot check the store", e))?;
        Ok((store.location(), found))
    }
}

/// A store this build of benchkeep does not have (built with `--no-default-features`).
#[cfg(not(all(feature = "git", feature = "s3")))]
pub(crate) fn not_built_in(store: &str) -> Error {
    Error::Invalid(format!(
        "this benchkeep was built without the {store} store (cargo feature `{store}`, on by \
         default): install a build with the default features (a release binary, or `cargo \
         install --locked --path crates/cli` from a clone)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_stores_or_say_why_not() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path();
        let err = |url: &str| {
            open(Some((url, UrlOrigin::CommandLine)), cwd, None)
                .unwrap_err()
                .to_string()
        };
        if cfg!(feature = "git") {
            assert!(err("git:").contains("git repository"), "{}", err("git:"));
            assert!(err("git:bad..name").contains("not a valid branch name"));
        } else {
            assert!(err("git:x").contains("built without the git store"));
        }
        if cfg!(feature = "s3") {
            assert!(err("s3://").contains("names no bucket"), "{}", err("s3://"));
            assert!(err("s3://b/p?endpoint=http://127.0.0.1:1").contains("allow_http=true"));
        } else {
            assert!(err("s3://b/p").contains("built without the s3 store"));
        }
        assert!(err("ftp://x").contains("unsupported store URL"));
        assert!(err("file://missing").contains("does not exist"));
        assert!(err("file://").contains("names no directory"));
        std::fs::create_dir(cwd.join("present")).unwrap();
        let store = open(Some(("file://present", UrlOrigin::CommandLine)), cwd, None).unwrap();
        assert!(store.location().ends_with("present"));
        let default = open(None, cwd, None).unwrap();
        assert!(default.location().ends_with(".benchkeep"));
        assert!(cwd.join(".benchkeep").is_dir());
    }
}
