//! The [`Store`] trait every backend implements, its errors, and the document codec they share.
//!
//! The trait holds only primitive operations, each required, so an implementor cannot inherit a
//! subtly wrong default. Conveniences such as [`update_baseline`] (the optimistic read-modify-write
//! loop) are free functions on top.

use std::fmt;

use async_trait::async_trait;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::baseline::{BASELINE_KIND, Baseline};
use crate::key::BaselineKey;
use crate::model::{RUN_KIND, Run, RunId};
use crate::schema::{self, SchemaVersion, Unreadable};

/// An error from a store. Messages are lowercase fragments naming the object concerned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The object does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `baseline main@linux-x86_64`.
        what: String,
    },
    /// A create-only write found the object already there.
    #[error("{what} already exists")]
    AlreadyExists {
        /// The object.
        what: String,
    },
    /// A conditional write found the object changed since it was read.
    #[error("{what} was changed by another writer since version {expected} was read")]
    Precondition {
        /// The object.
        what: String,
        /// The version the writer expected.
        expected: String,
    },
    /// A stored document could not be decoded.
    #[error("{what} is corrupt: {detail}")]
    Corrupt {
        /// The object, with its path or object key.
        what: String,
        /// What is wrong, e.g. the JSON error with line and column.
        detail: String,
    },
    /// A stored document was written by a newer, incompatible benchkeep.
    #[error("{what}: {reason}")]
    SchemaTooNew {
        /// The object.
        what: String,
        /// The explanation, including what to do.
        reason: Unreadable,
    },
    /// A stored document is in a format this build no longer reads.
    #[error("{what}: {reason}")]
    SchemaTooOld {
        /// The object.
        what: String,
        /// The explanation, including what to do.
        reason: Unreadable,
    },
    /// A key or id is not acceptable.
    #[error("invalid key: {detail}")]
    InvalidKey {
        /// What is wrong with it.
        detail: String,
    },
    /// The store's location (its URL, an option, an environment variable) cannot be used.
    #[error("invalid store location: {detail}")]
    InvalidLocation {
        /// What is wrong with it, naming the part (never a secret).
        detail: String,
    },
    /// The store does not support this operation (yet).
    #[error("the {store} store is not implemented yet: {what}")]
    NotImplemented {
        /// The store kind.
        store: &'static str,
        /// What is missing.
        what: String,
    },
    /// The backend failed (I/O, network, permissions).
    #[error("failed to {operation} in {store}: {source}")]
    Backend {
        /// The store's location.
        store: String,
        /// The operation, e.g. `write run 2026...`.
        operation: String,
        /// Whether retrying may succeed (timeouts, throttling, lock contention).
        transient: bool,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// Whether retrying the same operation may succeed.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Backend { transient, .. } => *transient,
            StoreError::NotFound { .. }
            | StoreError::AlreadyExists { .. }
            | StoreError::Precondition { .. }
            | StoreError::Corrupt { .. }
            | StoreError::SchemaTooNew { .. }
            | StoreError::SchemaTooOld { .. }
            | StoreError::InvalidKey { .. }
            | StoreError::InvalidLocation { .. }
            | StoreError::NotImplemented { .. } => false,
        }
    }
}

/// An opaque version of a stored baseline, for conditional updates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Version(pub String);

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A value with the version it was read at.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// Its version.
    pub version: Version,
}

/// How a baseline write treats an existing baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutMode {
    /// Only if there is none yet; otherwise [`StoreError::AlreadyExists`].
    Create,
    /// Only if the stored version is still this one; otherwise [`StoreError::Precondition`]
    /// (or [`StoreError::NotFound`] if it was deleted).
    Update(Version),
}

/// Which runs to list. Results are newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunQuery {
    /// Only runs of this key; all keys when `None`.
    pub key: Option<BaselineKey>,
    /// Only runs started at or after this time.
    pub since: Option<Timestamp>,
    /// Only runs started before this time.
    pub until: Option<Timestamp>,
    /// At most this many runs (the newest).
    pub limit: Option<usize>,
}

impl RunQuery {
    /// Runs of `key`, newest first, at most `limit`.
    #[must_use]
    pub fn latest(key: BaselineKey, limit: usize) -> Self {
        RunQuery {
            key: Some(key),
            limit: Some(limit),
            ..RunQuery::default()
        }
    }

    /// Whether a run id (which encodes its start time) falls in the time window.
    #[must_use]
    pub fn admits_time_of(&self, id: &RunId) -> bool {
        let at = id.timestamp();
        self.since.is_none_or(|s| at >= s) && self.until.is_none_or(|u| at < u)
    }
}

/// What [`Store::scan_runs`] found: the runs it could read, newest first, and why it could not
/// read the others. Built with `RunScan::default()` and [`RunScan::add`].
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct RunScan {
    /// The readable runs, newest first.
    pub runs: Vec<Run>,
    /// One error per run that could not be read, each naming the run.
    pub unreadable: Vec<StoreError>,
    /// The ids of the runs in `unreadable`, where the store knows them: listed, but not read.
    pub unreadable_ids: Vec<RunId>,
}

impl RunScan {
    /// Adds the outcome of reading run `id`: a run, or (when `lenient` and the run itself is
    /// unreadable) an entry in `unreadable`; any other error is returned.
    pub fn add(
        &mut self,
        id: &RunId,
        read: Result<Run, StoreError>,
        lenient: bool,
    ) -> Result<(), StoreError> {
        match read {
            Ok(run) => self.runs.push(run),
            Err(
                e @ (StoreError::Corrupt { .. }
                | StoreError::SchemaTooNew { .. }
                | StoreError::SchemaTooOld { .. }),
            ) if lenient => {
                self.unreadable.push(e);
                self.unreadable_ids.push(id.clone());
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Whether run `id` was listed: read, or named as unreadable.
    #[must_use]
    pub fn listed(&self, id: &RunId) -> bool {
        self.runs.iter().any(|run| &run.id == id) || self.unreadable_ids.contains(id)
    }
}

/// One promise a store's correctness rests on (create-only writes, conditional updates,
/// listings that show what was written), and whether the backend kept it when tried.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Guarantee {
    /// What is promised, in a few words: `conditional create`, `delimiter listing`.
    pub name: String,
    /// Whether the backend kept it.
    pub held: bool,
    /// What the backend did, for people.
    pub detail: String,
}

impl Guarantee {
    /// A guarantee and what was found.
    #[must_use]
    pub fn new(name: &str, held: bool, detail: &str) -> Self {
        Guarantee {
            name: name.to_owned(),
            held,
            detail: detail.to_owned(),
        }
    }
}

/// Where results and baselines are kept.
///
/// Every implementation passes the conformance suite (feature `conformance`).
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Where the store is, for messages: a URL such as `file:///repo/.benchkeep`.
    fn location(&self) -> String;

    /// Records a run. Never overwrites: a run with the same id gives [`StoreError::AlreadyExists`].
    async fn append_run(&self, run: &Run) -> Result<(), StoreError>;

    /// Reads one run.
    async fn get_run(&self, id: &RunId) -> Result<Run, StoreError>;

    /// Lists runs, newest first. A corrupt run among those selected is an error naming it.
    async fn list_runs(&self, query: &RunQuery) -> Result<Vec<Run>, StoreError>;

    /// Lists runs like [`Store::list_runs`], but a run that cannot be read (corrupt, truncated,
    /// of an unreadable format version) is set aside in [`RunScan::unreadable`] instead of
    /// failing the listing: for reports that show what they can and name what they could not.
    /// Any other error (an unreachable store) still fails.
    ///
    /// The default goes through `list_runs`, so one bad run fails it; the stores of this
    /// workspace override it.
    async fn scan_runs(&self, query: &RunQuery) -> Result<RunScan, StoreError> {
        Ok(RunScan {
            runs: self.list_runs(query).await?,
            ..RunScan::default()
        })
    }

    /// Deletes one run.
    async fn delete_run(&self, id: &RunId) -> Result<(), StoreError>;

    /// Deletes every listed run that exists, as one operation where the backend has one (one
    /// commit on a git branch); returns how many were deleted. Missing ids are skipped, so two
    /// concurrent prunes do not fail each other.
    async fn delete_runs(&self, ids: &[RunId]) -> Result<usize, StoreError>;

    /// Reads the baseline of `key` with its version.
    async fn get_baseline(&self, key: &BaselineKey) -> Result<Versioned<Baseline>, StoreError>;

    /// Writes the baseline of `baseline.key` under a precondition; returns the new version.
    async fn put_baseline(&self, baseline: &Baseline, mode: PutMode)
    -> Result<Version, StoreError>;

    /// Deletes the baseline of `key`.
    async fn delete_baseline(&self, key: &BaselineKey) -> Result<(), StoreError>;

    /// Every baseline in the store, ordered by key.
    async fn list_baselines(&self) -> Result<Vec<Versioned<Baseline>>, StoreError>;

    /// Tries the promises this store's correctness rests on against its backend, now, and says
    /// what held (`benchkeep store check`). A store that keeps them by construction (a local
    /// directory with atomic renames and links, a git branch updated by compare-and-swap) has
    /// nothing to try and returns what it relies on, all held; the default says so.
    async fn check_guarantees(&self) -> Result<Vec<Guarantee>, StoreError> {
        Ok(vec![Guarantee::new(
            "by construction",
            true,
            "this store's writes are atomic and conditional by design; nothing to probe",
        )])
    }
}

/// Reads the baseline of `key` (if any), lets `change` produce the new one, and writes it with a
/// precondition; on a concurrent write it reads again and retries, up to `attempts` times.
///
/// This is the only correct way to modify a shared baseline: no update is ever lost.
pub async fn update_baseline<F>(
    store: &dyn Store,
    key: &BaselineKey,
    attempts: usize,
    mut change: F,
) -> Result<(Baseline, Version), StoreError>
where
    F: FnMut(Option<Baseline>) -> Result<Baseline, StoreError> + Send,
{
    let mut last_conflict = None;
    for _ in 0..attempts.max(1) {
        let (current, mode) = match store.get_baseline(key).await {
            Ok(found) => (Some(found.value), PutMode::Update(found.version)),
            Err(StoreError::NotFound { .. }) => (None, PutMode::Create),
            Err(e) => return Err(e),
        };
        let next = change(current)?;
        match store.put_baseline(&next, mode).await {
            Ok(version) => return Ok((next, version)),
            Err(
                e @ (StoreError::Precondition { .. }
                | StoreError::AlreadyExists { .. }
                | StoreError::NotFound { .. }),
            ) => last_conflict = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_conflict.unwrap_or_else(|| StoreError::Precondition {
        what: format!("baseline {key}"),
        expected: "any".into(),
    }))
}

/// `text` with the secrets a URL in it may carry replaced by `[redacted]`: the user and
/// password (`http://user:secret@host`, also when malformed, `http://user:se/cret@host`: all
/// up to the last `@` of the word), and the values of query parameters that name a credential
/// (`token`, `signature`, `X-Amz-Signature`, `X-Amz-Credential`, `password`, `secret`, `key`,
/// `sig`, ...). An endpoint URL may carry them, and errors print URLs; every store uses this
/// before a URL reaches a message.
///
/// ```
/// use benchkeep_core::store::redact_userinfo;
///
/// assert_eq!(redact_userinfo("GET http://u:pw@h:9/b"), "GET http://[redacted]@h:9/b");
/// assert_eq!(
///     redact_userinfo("https://h/b?X-Amz-Signature=abc&part=1"),
///     "https://h/b?X-Amz-Signature=[redacted]&part=1"
/// );
/// ```
#[must_use]
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The URL's word: up to whitespace or a quote. Userinfo cannot contain `/`, `?` or `#`,
        // but a malformed one may, and it is still a secret: cut at the word's last `@`.
        let word_end = after
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(after.len());
        match after[..word_end].rfind('@') {
            Some(user_end) => {
                out.push_str("[redacted]");
                rest = &after[user_end..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    redact_query_credentials(&out)
}

/// The values of credential-like query parameters in `text` replaced by `[redacted]`.
fn redact_query_credentials(text: &str) -> String {
    const SECRET_NAMES: [&str; 9] = [
        "token",
        "signature",
        "credential",
        "password",
        "passwd",
        "secret",
        "key",
        "sig",
        "auth",
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(['?', '&']) {
        let (before, after) = rest.split_at(at + 1);
        out.push_str(before);
        let Some(eq) = after.find('=') else {
            rest = after;
            continue;
        };
        let name = &after[..eq];
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
        let lower = name.to_ascii_lowercase();
        if plain && SECRET_NAMES.iter().any(|secret| lower.contains(secret)) {
            out.push_str(name);
            out.push_str("=[redacted]");
            let value_end = after[eq + 1..]
                .find(|c: char| c == '&' || c == '#' || c.is_whitespace() || c == '"')
                .map_or(after.len(), |end| eq + 1 + end);
            rest = &after[value_end..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A version derived from stored bytes, for stores that have no native version (a local file):
/// FNV-1a 64 of the content plus its length. Two different baselines with the same version would
/// need a 64-bit hash collision between two successive writes of one key.
#[must_use]
pub fn content_version(bytes: &[u8]) -> Version {
    let mut hash = crate::key::Fnv64::default();
    hash.write(bytes);
    Version(format!("{:016x}-{}", hash.0, bytes.len()))
}

/// Encodes a run as stored: compact JSON and a newline.
#[must_use]
pub fn encode_run(run: &Run) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(run).expect("a run always serialises");
    bytes.push(b'\n');
    bytes
}

/// Encodes a baseline as stored: compact JSON and a newline.
#[must_use]
pub fn encode_baseline(baseline: &Baseline) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(baseline).expect("a baseline always serialises");
    bytes.push(b'\n');
    bytes
}

#[derive(Deserialize)]
struct Probe {
    schema: SchemaVersion,
    kind: String,
}

fn check_document(
    what: &str,
    expected_kind: &str,
    schema: SchemaVersion,
    kind: &str,
) -> Result<(), StoreError> {
    schema
        .check_readable_by(schema::CURRENT)
        .map_err(|reason| match reason {
            Unreadable::TooNew { .. } => StoreError::SchemaTooNew {
                what: what.to_owned(),
                reason,
            },
            Unreadable::TooOld { .. } => StoreError::SchemaTooOld {
                what: what.to_owned(),
                reason,
            },
        })?;
    if kind != expected_kind {
        return Err(StoreError::Corrupt {
            what: what.to_owned(),
            detail: format!("expected a {expected_kind} document, found kind {kind:?}"),
        });
    }
    Ok(())
}

/// Decodes a stored document of type `T` and kind `expected_kind`; `what` names it in errors.
///
/// The happy path parses once. Only when the full parse fails is the schema probed, so that a
/// document from a newer benchkeep is reported as such rather than as corrupt.
fn decode<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
    expected_kind: &str,
    schema_and_kind: impl Fn(&T) -> (SchemaVersion, &str),
) -> Result<T, StoreError> {
    match serde_json::from_slice::<T>(bytes) {
        Ok(doc) => {
            let (schema, kind) = schema_and_kind(&doc);
            check_document(what, expected_kind, schema, kind)?;
            Ok(doc)
        }
        Err(full_error) => {
            if let Ok(probe) = serde_json::from_slice::<Probe>(bytes) {
                check_document(what, expected_kind, probe.schema, &probe.kind)?;
            }
            let detail = if bytes.is_empty() {
                "the file is empty".to_owned()
            } else if full_error.is_eof() {
                format!("truncated ({full_error})")
            } else {
                full_error.to_string()
            };
            Err(StoreError::Corrupt {
                what: what.to_owned(),
                detail,
            })
        }
    }
}

/// Decodes a stored run; `what` names it in errors (e.g. with its path).
pub fn decode_run(bytes: &[u8], what: &str) -> Result<Run, StoreError> {
    let run = decode::<Run>(bytes, what, RUN_KIND, |r| (r.schema, r.kind.as_str()))?;
    run.key.validate().map_err(|e| StoreError::Corrupt {
        what: what.to_owned(),
        detail: e.to_string(),
    })?;
    Ok(run)
}

/// Decodes the stored baseline of `key` at `version`, refusing a document that holds another
/// key's baseline (a hand-moved file, or a storage-name collision) as `Corrupt`.
pub fn decode_baseline_for(
    key: &BaselineKey,
    bytes: &[u8],
    what: &str,
    version: Version,
) -> Result<Versioned<Baseline>, StoreError> {
    let value = decode_baseline(bytes, what)?;
    if &value.key != key {
        return Err(StoreError::Corrupt {
            what: what.to_owned(),
            detail: format!("the document holds the baseline of {}", value.key),
        });
    }
    Ok(Versioned { value, version })
}

/// Decodes a stored baseline; `what` names it in errors.
pub fn decode_baseline(bytes: &[u8], what: &str) -> Result<Baseline, StoreError> {
    let baseline = decode::<Baseline>(bytes, what, BASELINE_KIND, |b| (b.schema, b.kind.as_str()))?;
    baseline.key.validate().map_err(|e| StoreError::Corrupt {
        what: what.to_owned(),
        detail: e.to_string(),
    })?;
    Ok(baseline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Fingerprint;

    #[test]
    fn no_url_secret_survives_redaction_however_the_url_is_spelled() {
        for text in [
            "http://user:SECRET@host:9/b",
            "the endpoint \"http://user:SECRET/x@host\" is not a URL",
            "http://user:SECRET?x@host",
            "http://user:SECRET#x@host",
            "https://u:pa@SECRET@host/p",
            "Error performing GET https://host/b?X-Amz-Signature=SECRET&X-Amz-Date=1",
            "https://host/?token=SECRET",
            "https://host/?a=1&Secret_Key=SECRET#frag",
            "s3://bucket/p?X-Amz-Credential=SECRET%2F2026",
        ] {
            let redacted = redact_userinfo(text);
            assert!(!redacted.contains("SECRET"), "{text} -> {redacted}");
        }
        assert_eq!(
            redact_userinfo("GET https://host/b?part=1&x=2 failed"),
            "GET https://host/b?part=1&x=2 failed",
            "harmless URLs stay readable"
        );
    }

    fn run() -> Run {
        let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        Run::new(
            RunId::new(at, 5),
            at,
            BaselineKey::new("main", "linux").unwrap(),
            Fingerprint::default(),
        )
    }

    #[test]
    fn round_trip_keeps_fields_from_newer_minor_versions() {
        let mut value: serde_json::Value = serde_json::from_slice(&encode_run(&run())).unwrap();
        value["schema"]["minor"] = 9.into();
        value["future_field"] = serde_json::json!({"x": 1});
        let bytes = serde_json::to_vec(&value).unwrap();
        let decoded = decode_run(&bytes, "run x").unwrap();
        let again: serde_json::Value = serde_json::from_slice(&encode_run(&decoded)).unwrap();
        assert_eq!(again["future_field"], serde_json::json!({"x": 1}));
    }

    #[test]
    fn truncated_documents_are_corrupt_and_named() {
        let bytes = encode_run(&run());
        let err = decode_run(&bytes[..bytes.len() / 2], "run at runs/x.json").unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }));
        let message = err.to_string();
        assert!(
            message.contains("runs/x.json") && message.contains("truncated"),
            "{message}"
        );
        let empty = decode_run(b"", "run y").unwrap_err().to_string();
        assert!(empty.contains("empty"), "{empty}");
    }

    #[test]
    fn future_major_versions_are_refused_even_if_the_shape_changed() {
        let doc = br#"{"schema":{"major":2,"minor":0},"kind":"run","something":"else"}"#;
        let err = decode_run(doc, "run z").unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { .. }), "{err}");
        assert!(err.to_string().contains("upgrade benchkeep"));
    }

    #[test]
    fn a_baseline_under_another_key_is_corrupt() {
        let key = BaselineKey::new("main", "linux").unwrap();
        let other = BaselineKey::new("dev", "linux").unwrap();
        let baseline = Baseline::from_runs(other, &[run()], Timestamp::UNIX_EPOCH).unwrap();
        let bytes = encode_baseline(&baseline);
        let err = decode_baseline_for(&key, &bytes, "baselines/main.json", Version("v".into()))
            .unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(
            err.to_string().contains("baselines/main.json")
                && err.to_string().contains("dev@linux"),
            "{err}"
        );
        let own = Baseline::from_runs(key.clone(), &[run()], Timestamp::UNIX_EPOCH).unwrap();
        let read =
            decode_baseline_for(&key, &encode_baseline(&own), "b", Version("v1".into())).unwrap();
        assert_eq!((read.value, read.version), (own, Version("v1".into())));
    }

    #[test]
    fn wrong_kind_is_corrupt() {
        let err = decode_baseline(&encode_run(&run()), "baseline b").unwrap_err();
        assert!(
            err.to_string().contains("expected a baseline document"),
            "{err}"
        );
    }
}
