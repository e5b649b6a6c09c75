//! benchkeep-store-s3: runs and baselines in S3-compatible object storage.
//!
//! Selected with `--store s3://BUCKET/PREFIX`, optionally with
//! `?endpoint=URL&region=REGION&allow_http=true&virtual_hosted=false` for S3-compatible services
//! (`MinIO`, Cloudflare R2, Ceph, a local test server). Credentials come from the standard AWS
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, ...) and are never printed: not in errors, `Debug` output or reports.
//!
//! # Layout under the prefix
//!
//! ```text
//! runs/<key storage name>/<YYYY-MM-DD>/<run id>.json     create-only puts (If-None-Match: *)
//! baselines/<key storage name>.json                      conditional puts (If-Match: ETag)
//! ```
//!
//! Listing the newest runs of a key walks only that key's day prefixes, newest first, so its cost
//! does not grow with other keys' runs.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use std::sync::Arc;
//! use benchkeep_core::{BaselineKey, RunQuery, Store};
//! use benchkeep_store_s3::S3Store;
//!
//! // Any object_store backend works; tests use the in-memory one.
//! let store = S3Store::with_object_store(Arc::new(object_store::memory::InMemory::new()), "proj", "memory");
//! let key = BaselineKey::new("main", "linux-x86_64").unwrap();
//! assert!(store.list_runs(&RunQuery::latest(key, 10)).await.unwrap().is_empty());
//! # });
//! ```
#![deny(missing_docs)]

mod probe;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use async_trait::async_trait;
use benchkeep_core::baseline::Baseline;
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::{Run, RunId};
use benchkeep_core::store::{
    self as core_store, Guarantee, PutMode, RunQuery, RunScan, Store, StoreError, Version,
    Versioned,
};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutOptions, PutPayload, UpdateVersion};

/// Where the store is, parsed from an `s3://` URL. Holds no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Options {
    /// The bucket.
    pub bucket: String,
    /// The prefix inside the bucket (may be empty).
    pub prefix: String,
    /// A custom endpoint (S3-compatible services); `AWS_ENDPOINT_URL` otherwise.
    pub endpoint: Option<String>,
    /// The region; `AWS_REGION` otherwise.
    pub region: Option<String>,
    /// Whether plain-http endpoints are allowed (only when asked for explicitly).
    pub allow_http: bool,
    /// Virtual-hosted-style requests (`bucket.host`) instead of path-style (`host/bucket`).
    pub virtual_hosted: Option<bool>,
}

fn invalid(detail: String) -> StoreError {
    StoreError::InvalidLocation { detail }
}

/// `text` as an error may show it: URL secrets redacted, at most 120 characters.
fn shown(text: &str) -> String {
    let redacted = core_store::redact_userinfo(text);
    if redacted.chars().count() <= 120 {
        return redacted;
    }
    let kept: String = redacted.chars().take(119).collect();
    format!("{kept}…")
}

/// Whether `name` is a bucket name every S3-compatible service could have: 1 to 255 ASCII
/// letters, digits, `.`, `-` or `_` (anything else, such as `user:secret@host`, is a
/// mistake, and is not echoed).
fn plausible_bucket(name: &str) -> bool {
    (1..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

impl S3Options {
    /// Parses the part of a store URL after `s3://`: `BUCKET[/PREFIX][?option=value&...]`
    /// (values may be percent-encoded).
    /// Every value is checked here, before `object_store` sees it; errors never show a
    /// password, a credential-like query value, nor more than 120 characters of the URL.
    ///
    /// # Errors
    ///
    /// No bucket, an implausible bucket or region, an unknown option, a flag that is not
    /// true or false.
    pub fn from_url(spec: &str) -> Result<Self, StoreError> {
        let spec_shown = shown(spec);
        let (location, query) = spec.split_once('?').unwrap_or((spec, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            return Err(invalid(format!(
                "s3://{spec_shown}: the URL names no bucket (s3://BUCKET/PREFIX)"
            )));
        }
        if !plausible_bucket(bucket) {
            return Err(invalid(
                "the bucket of the s3:// store URL is not a bucket name (letters, digits, `.`, `-`, `_`; credentials come from the AWS_* variables, never the URL)".into(),
            ));
        }
        let mut options = S3Options {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            endpoint: None,
            region: None,
            allow_http: false,
            virtual_hosted: None,
        };
        let flag = |name: &str, value: &str| match value {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            other => Err(invalid(format!(
                "s3://{}/...: {name}={:?} is not true or false",
                options.bucket,
                shown(other)
            ))),
        };
        let mut endpoint = None;
        let mut region = None;
        let mut allow_http = false;
        let mut virtual_hosted = None;
        // Query values may be percent-encoded (`endpoint=http%3A%2F%2Fhost%3A9000`).
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let (name, value) = (name.as_ref(), value.as_ref());
            match name {
                "endpoint" => endpoint = Some(value.to_owned()),
                "region" => region = Some(value.to_owned()),
                "allow_http" => allow_http = flag(name, value)?,
                "virtual_hosted" => virtual_hosted = Some(flag(name, value)?),
                other => {
                    // An option's name is echoed only when it looks like one: a password
                    // with `&` in it splits the query there.
                    let named = if !other.is_empty()
                        && other.len() <= 40
                        && other
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    {
                        format!("unknown option {other:?}")
                    } else {
                        "an option that is not one (is there a `&` in a value?)".to_owned()
                    };
                    return Err(invalid(format!(
                        "s3://{}/...: {named} (expected endpoint, region, allow_http or virtual_hosted)",
                        options.bucket
                    )));
                }
            }
        }
        if let Some(region) = &region
            && !(1..=64).contains(&region.len())
        {
            return Err(invalid(
                "the region of the s3:// store URL is empty or too long".into(),
            ));
        }
        if let Some(region) = &region
            && !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(invalid(
                "the region of the s3:// store URL is not a region name (letters, digits and `-`, e.g. eu-west-1)".into(),
            ));
        }
        options.endpoint = endpoint;
        options.region = region;
        options.allow_http = allow_http;
        options.virtual_hosted = virtual_hosted;
        Ok(options)
    }
}

/// The endpoint in the form `object_store` is given: an `http` or `https` URL with a host,
/// no user or password, no query or fragment, normalized (`url`: punycode, no stray spaces),
/// so that nothing unusual reaches the request signer (which panics on some strings). Errors
/// name `what` and show the endpoint only once it is known to hold no secret.
fn checked_endpoint(endpoint: &str, what: &str) -> Result<String, StoreError> {
    let parsed = url::Url::parse(endpoint).map_err(|e| {
        invalid(format!(
            "{what} is not a URL ({e}; {} characters, not shown: it may hold a secret)",
            endpoint.chars().count()
        ))
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(format!(
            "{what} carries a user or password; S3 credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile), never the URL"
        )));
    }
    if !matches!(parsed.scheme(), "http" | "https") {
        // Not shown: `user:secret@host` reads as a URL of scheme `user`.
        return Err(invalid(format!(
            "{what} must be an http:// or https:// URL"
        )));
    }
    let shown = shown(parsed.as_str());
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid(format!("{what} {shown:?} has no host")));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid(format!(
            "{what} must not have a query or fragment (`?...`, `#...`)"
        )));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// A store in an S3 bucket (or any `object_store` backend).
#[derive(Clone)]
pub struct S3Store {
    store: Arc<dyn ObjectStore>,
    root: Path,
    description: String,
    /// Whether this process has seen the server's guarantees hold (module `probe`): set by the
    /// first write, which probes the server unless a recent passing probe is recorded.
    probed: Arc<AtomicBool>,
}

/// Only where the store is: never the client, which holds credentials.
impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("location", &self.description)
            .finish_non_exhaustive()
    }
}

/// Opens the S3 store named by the part of an `s3://` URL after the scheme.
pub fn open(spec: &str) -> Result<Box<dyn Store>, StoreError> {
    Ok(Box::new(S3Store::open(&S3Options::from_url(spec)?)?))
}

impl S3Store {
    /// Opens a bucket with credentials and settings from the AWS environment, overridden by
    /// `options`. Transient failures (timeouts, 5xx, throttling) are retried with bounded backoff.
    pub fn open(options: &S3Options) -> Result<Self, StoreError> {
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&options.bucket);
        let endpoint = match &options.endpoint {
            Some(endpoint) => Some(checked_endpoint(endpoint, "the endpoint")?),
            None => std::env::var("AWS_ENDPOINT_URL")
                .ok()
                .filter(|e| !e.is_empty())
                .map(|e| checked_endpoint(&e, "AWS_ENDPOINT_URL"))
                .transpose()?,
        };
        if let Some(endpoint) = &endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &options.region {
            builder = builder.with_region(region);
        } else if let Ok(region) = std::env::var("AWS_REGION")
            && !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(invalid(
                "AWS_REGION is not a region name (letters, digits and `-`, e.g. eu-west-1)".into(),
            ));
        }
        if let Some(virtual_hosted) = options.virtual_hosted {
            builder = builder.with_virtual_hosted_style_request(virtual_hosted);
        }
        let endpoint = endpoint.unwrap_or_default();
        if endpoint.starts_with("http://") {
            if !options.allow_http
                && std::env::var("AWS_ALLOW_HTTP").ok().as_deref() != Some("true")
            {
                return Err(invalid(format!(
                    "the endpoint {} is plain http: add allow_http=true to the store URL to allow it",
                    core_store::redact_userinfo(&endpoint)
                )));
            }
            builder = builder.with_allow_http(true);
        }
        builder = builder.with_retry(object_store::RetryConfig {
            backoff: object_store::BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: 4,
            retry_timeout: Duration::from_secs(20),
        });
        let description = format!("s3://{}/{}", options.bucket, options.prefix);
        let store = builder.build().map_err(|e| StoreError::Backend {
            store: description.clone(),
            operation: "configure the S3 client".into(),
            transient: false,
            source: scrub(&e.to_string()).into(),
        })?;
        Ok(S3Store::with_object_store(
            Arc::new(store),
            &options.prefix,
            &description,
        ))
    }

    /// A store under `prefix` of any `object_store` backend; `description` names it in messages.
    #[must_use]
    pub fn with_object_store(store: Arc<dyn ObjectStore>, prefix: &str, description: &str) -> Self {
        S3Store {
            store,
            root: prefix
                .split('/')
                .filter(|p| !p.is_empty())
                .collect::<Path>(),
            description: description.to_owned(),
            probed: Arc::new(AtomicBool::new(false)),
        }
    }

    fn runs_dir(&self) -> Path {
        self.root.clone().join("runs")
    }

    fn key_dir(&self, key: &BaselineKey) -> Path {
        self.runs_dir().join(key.storage_name())
    }

    /// The object holding run `id` of `key`.
    #[must_use]
    pub fn run_object(&self, key: &BaselineKey, id: &RunId) -> Path {
        let (day, file) = day_and_file(id);
        self.key_dir(key).join(day).join(file)
    }

    /// The object holding the baseline of `key`.
    #[must_use]
    pub fn baseline_object(&self, key: &BaselineKey) -> Path {
        self.root
            .clone()
            .join("baselines")
            .join(format!("{}.json", key.storage_name()))
    }

    /// S3 answers 404 both for a missing object and a missing bucket; only the latter is an
    /// error rather than "nothing stored yet", and mistaking it would let `check` bootstrap.
    fn missing_bucket(&self, error: &object_store::Error, operation: &str) -> Option<StoreError> {
        let text = match error {
            object_store::Error::NotFound { source, .. } => source.to_string(),
            _ => return None,
        };
        text.contains("NoSuchBucket").then(|| StoreError::Backend {
            store: self.description.clone(),
            operation: operation.to_owned(),
            transient: false,
            source: "the bucket does not exist".into(),
        })
    }

    fn error(&self, operation: &str, error: object_store::Error) -> StoreError {
        if let Some(missing) = self.missing_bucket(&error, operation) {
            return missing;
        }
        match error {
            object_store::Error::NotFound { path, .. } => StoreError::NotFound {
                what: format!("{} in {}", path, self.description),
            },
            object_store::Error::AlreadyExists { path, .. } => StoreError::AlreadyExists {
                what: format!("{} in {}", path, self.description),
            },
            object_store::Error::Precondition { path, .. } => StoreError::Precondition {
                what: format!("{} in {}", path, self.description),
                expected: "the version read".into(),
            },
            other => {
                let mut text = scrub(&other.to_string());
                if text.contains("169.254.169.254") {
                    // With no credentials in the environment the client asks the instance
                    // metadata service, which outside a cloud VM fails with this address.
                    text = "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or run where an instance role provides them)".into();
                }
                if let Some(reason) = s3_reason(&text) {
                    text = reason;
                }
                let missing_bucket = text.contains("NoSuchBucket");
                StoreError::Backend {
                    store: self.description.clone(),
                    operation: operation.to_owned(),
                    // object_store already retried what can be retried.
                    transient: false,
                    source: if missing_bucket {
                        format!("the bucket does not exist ({text})").into()
                    } else {
                        text.into()
                    },
                }
            }
        }
    }

    async fn read(
        &self,
        object: &Path,
        operation: &str,
    ) -> Result<Option<(Vec<u8>, Option<String>)>, StoreError> {
        match self.store.get(object).await {
            Ok(result) => {
                let e_tag = result.meta.e_tag.clone();
                let bytes = result.bytes().await.map_err(|e| self.error(operation, e))?;
                Ok(Some((bytes.to_vec(), e_tag)))
            }
            Err(e @ object_store::Error::NotFound { .. }) => {
                match self.missing_bucket(&e, operation) {
                    Some(missing) => Err(missing),
                    None => Ok(None),
                }
            }
            Err(e) => Err(self.error(operation, e)),
        }
    }

    /// Child prefixes (their last segment) and objects directly under `dir`.
    async fn children(&self, dir: &Path) -> Result<(Vec<Path>, Vec<Path>), StoreError> {
        let listing = self
            .store
            .list_with_delimiter(Some(dir))
            .await
            .map_err(|e| self.error(&format!("list {dir}"), e))?;
        Ok((
            listing.common_prefixes,
            listing.objects.into_iter().map(|o| o.location).collect(),
        ))
    }

    async fn find_run(&self, id: &RunId) -> Result<Option<Path>, StoreError> {
        let (day, file) = day_and_file(id);
        let (key_dirs, _) = self.children(&self.runs_dir()).await?;
        for key_dir in key_dirs {
            let object = key_dir.join(day.as_str()).join(file.as_str());
            match self.store.head(&object).await {
                Ok(_) => return Ok(Some(object)),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.error(&format!("look for run {id}"), e)),
            }
        }
        Ok(None)
    }

    async fn decode_run_at(&self, object: &Path, id: &RunId) -> Result<Run, StoreError> {
        let what = format!("run {id} ({} in {})", object, self.description);
        let (bytes, _) = self
            .read(object, &format!("read run {id}"))
            .await?
            .ok_or_else(|| StoreError::NotFound { what: what.clone() })?;
        core_store::decode_run(&bytes, &what)
    }
}

/// The day prefix (`YYYY-MM-DD`, the id's UTC start) and object name of a run.
fn day_and_file(id: &RunId) -> (String, String) {
    let d = &id.as_str()[..8];
    (
        format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..8]),
        format!("{id}.json"),
    )
}

/// Drops anything that looks like a credential from an error text, as a last line of defence:
/// `object_store` does not put secrets in its errors, but a misconfigured endpoint URL might
/// carry one in its userinfo or query string.
fn scrub(text: &str) -> String {
    let text = core_store::redact_userinfo(text);
    let mut out = String::with_capacity(text.len());
    for word in text.split_inclusive(char::is_whitespace) {
        let lower = word.to_ascii_lowercase();
        let secret_like = [
            "x-amz-security-token",
            "x-amz-credential",
            "x-amz-signature",
            "aws_secret",
            "signature=",
        ]
        .iter()
        .any(|needle| lower.contains(needle));
        if secret_like {
            out.push_str("[redacted]");
            if word.ends_with(char::is_whitespace) {
                out.push(' ');
            }
        } else {
            out.push_str(word);
        }
    }
    out
}

/// S3's own explanation from an error body (`<Code>` and `<Message>`), with the HTTP status:
/// `403 Forbidden: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist`.
fn s3_reason(text: &str) -> Option<String> {
    let between = |open: &str, close: &str| {
        let start = text.find(open)? + open.len();
        let end = start + text[start..].find(close)?;
        Some(text[start..end].trim().to_owned())
    };
    let code = between("<Code>", "</Code>")?;
    let message = between("<Message>", "</Message>").unwrap_or_default();
    let status = [
        "400 Bad Request",
        "401 Unauthorized",
        "403 Forbidden",
        "404 Not Found",
        "409 Conflict",
    ]
    .into_iter()
    .find(|s| text.contains(s));
    Some(match status {
        Some(status) => format!("{status}: {code}: {message}"),
        None => format!("{code}: {message}"),
    })
}

fn last_segment(path: &Path) -> String {
    path.parts()
        .next_back()
        .map(|p| p.as_ref().to_owned())
        .unwrap_or_default()
}

impl S3Store {
    /// The runs `query` selects, newest first; with `lenient`, unreadable ones are set aside.
    async fn collect_runs(&self, query: &RunQuery, lenient: bool) -> Result<RunScan, StoreError> {
        let key_dirs = match &query.key {
            Some(key) => {
                key.validate().map_err(|e| invalid(e.to_string()))?;
                vec![self.key_dir(key)]
            }
            None => self.children(&self.runs_dir()).await?.0,
        };
        let day_of = |t: jiff::Timestamp| day_and_file(&RunId::new(t, 0)).0;
        let (first_day, last_day) = (query.since.map(day_of), query.until.map(day_of));
        let mut found: Vec<(RunId, Path)> = Vec::new();
        for key_dir in key_dirs {
            let (mut days, _) = self.children(&key_dir).await?;
            days.sort_by_key(|d| std::cmp::Reverse(last_segment(d)));
            for day_dir in days {
                let day = last_segment(&day_dir);
                if first_day.as_ref().is_some_and(|f| &day < f)
                    || last_day.as_ref().is_some_and(|l| &day > l)
                {
                    continue;
                }
                if query.key.is_some() && query.limit.is_some_and(|limit| found.len() >= limit) {
                    break;
                }
                for object in self.children(&day_dir).await?.1 {
                    // Anything that is not `<run id>.json` is not a run.
                    let name = last_segment(&object);
                    let Some(id) = name
                        .strip_suffix(".json")
                        .and_then(|s| s.parse::<RunId>().ok())
                    else {
                        continue;
                    };
                    if query.admits_time_of(&id) {
                        found.push((id, object));
                    }
                }
            }
        }
        found.sort_by(|a, b| b.0.cmp(&a.0));
        if let Some(limit) = query.limit {
            found.truncate(limit);
        }
        // Eight reads in flight at a time; results keep the newest-first order.
        let mut scan = RunScan::default();
        for chunk in found.chunks(8) {
            let reads = chunk
                .iter()
                .map(|(id, object)| self.decode_run_at(object, id));
            let read = futures::future::join_all(reads).await;
            for ((id, _), read) in chunk.iter().zip(read) {
                scan.add(id, read, lenient)?;
            }
        }
        Ok(scan)
    }
}

#[async_trait]
impl Store for S3Store {
    fn location(&self) -> String {
        self.description.clone()
    }

    async fn append_run(&self, run: &Run) -> Result<(), StoreError> {
        run.key.validate().map_err(|e| invalid(e.to_string()))?;
        self.ensure_guarantees().await?;
        let object = self.run_object(&run.key, &run.id);
        let options = PutOptions {
            mode: object_store::PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(
                &object,
                PutPayload::from(core_store::encode_run(run)),
                options,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Err(StoreError::AlreadyExists {
                what: format!("run {}", run.id),
            }),
            Err(e) => Err(self.error(&format!("write run {}", run.id), e)),
        }
    }

    async fn get_run(&self, id: &RunId) -> Result<Run, StoreError> {
        let object = self
            .find_run(id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("run {id}"),
            })?;
        self.decode_run_at(&object, id).await
    }

    async fn list_runs(&self, query: &RunQuery) -> Result<Vec<Run>, StoreError> {
        Ok(self.collect_runs(query, false).await?.runs)
    }

    async fn scan_runs(&self, query: &RunQuery) -> Result<RunScan, StoreError> {
        self.collect_runs(query, true).await
    }

    async fn delete_run(&self, id: &RunId) -> Result<(), StoreError> {
        self.ensure_guarantees().await?;
        let object = self
            .find_run(id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("run {id}"),
            })?;
        self.store
            .delete(&object)
            .await
            .map_err(|e| self.error(&format!("delete run {id}"), e))
    }

    async fn delete_runs(&self, ids: &[RunId]) -> Result<usize, StoreError> {
        let mut deleted = 0;
        for id in ids {
            match self.delete_run(id).await {
                Ok(()) => deleted += 1,
                Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }

    async fn get_baseline(&self, key: &BaselineKey) -> Result<Versioned<Baseline>, StoreError> {
        key.validate().map_err(|e| invalid(e.to_string()))?;
        let object = self.baseline_object(key);
        let what = format!("baseline {key} ({} in {})", object, self.description);
        let (bytes, e_tag) = self
            .read(&object, &format!("read baseline {key}"))
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("baseline {key}"),
            })?;
        core_store::decode_baseline_for(key, &bytes, &what, Version(e_tag.unwrap_or_default()))
    }

    async fn put_baseline(
        &self,
        baseline: &Baseline,
        mode: PutMode,
    ) -> Result<Version, StoreError> {
        let key = &baseline.key;
        key.validate().map_err(|e| invalid(e.to_string()))?;
        self.ensure_guarantees().await?;
        let object = self.baseline_object(key);
        let what = format!("baseline {key}");
        let put_mode = match &mode {
            PutMode::Create => object_store::PutMode::Create,
            PutMode::Update(version) => object_store::PutMode::Update(UpdateVersion {
                e_tag: Some(version.0.clone()),
                version: None,
            }),
        };
        let options = PutOptions {
            mode: put_mode,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(
                &object,
                PutPayload::from(core_store::encode_baseline(baseline)),
                options,
            )
            .await
        {
            Ok(result) => Ok(Version(result.e_tag.unwrap_or_default())),
            Err(object_store::Error::AlreadyExists { .. }) => {
                Err(StoreError::AlreadyExists { what })
            }
            Err(object_store::Error::Precondition { .. }) => match mode {
                // S3 answers a create-only put on an existing object with 412 as well.
                PutMode::Create => Err(StoreError::AlreadyExists { what }),
                PutMode::Update(version) => match self.store.head(&object).await {
                    Err(object_store::Error::NotFound { .. }) => Err(StoreError::NotFound { what }),
                    _ => Err(StoreError::Precondition {
                        what,
                        expected: version.0,
                    }),
                },
            },
            Err(object_store::Error::NotFound { .. }) => Err(StoreError::NotFound { what }),
            Err(e) => Err(self.error(&format!("write baseline {key}"), e)),
        }
    }

    async fn delete_baseline(&self, key: &BaselineKey) -> Result<(), StoreError> {
        key.validate().map_err(|e| invalid(e.to_string()))?;
        self.ensure_guarantees().await?;
        let object = self.baseline_object(key);
        // S3 deletes are idempotent; look first so a missing baseline is reported as such.
        self.store.head(&object).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => StoreError::NotFound {
                what: format!("baseline {key}"),
            },
            other => self.error(&format!("look for baseline {key}"), other),
        })?;
        self.store
            .delete(&object)
            .await
            .map_err(|e| self.error(&format!("delete baseline {key}"), e))
    }

    async fn check_guarantees(&self) -> Result<Vec<Guarantee>, StoreError> {
        self.probe_and_record().await
    }

    async fn list_baselines(&self) -> Result<Vec<Versioned<Baseline>>, StoreError> {
        let dir = self.root.clone().join("baselines");
        let (_, objects) = self.children(&dir).await?;
        let mut out = Vec::new();
        for object in objects {
            if std::path::Path::new(&last_segment(&object))
                .extension()
                .is_none_or(|e| e != "json")
            {
                continue;
            }
            let what = format!("baseline object {} in {}", object, self.description);
            let Some((bytes, e_tag)) = self.read(&object, "read a baseline").await? else {
                continue; // deleted while listing
            };
            out.push(Versioned {
                value: core_store::decode_baseline(&bytes, &what)?,
                version: Version(e_tag.unwrap_or_default()),
            });
        }
        out.sort_by(|a, b| a.value.key.cmp(&b.value.key));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_options() {
        let o = S3Options::from_url(
            "bench/proj/sub?endpoint=http://127.0.0.1:9000&allow_http=true&region=eu-west-1",
        )
        .unwrap();
        assert_eq!(
            (o.bucket.as_str(), o.prefix.as_str()),
            ("bench", "proj/sub")
        );
        assert_eq!(o.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(o.allow_http);
        assert!(S3Options::from_url("").is_err());
        assert!(
            S3Options::from_url("b?colour=red")
                .unwrap_err()
                .to_string()
                .contains("colour")
        );
        assert!(S3Options::from_url("b?allow_http=maybe").is_err());
        let encoded = S3Options::from_url("b?endpoint=http%3A%2F%2F127.0.0.1%3A9000").unwrap();
        assert_eq!(encoded.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    }

    #[test]
    fn endpoints_reach_object_store_normalized_or_not_at_all() {
        for (endpoint, normalized) in [
            (" http://example.com", "http://example.com"),
            ("https://127.0.0.1:9000/", "https://127.0.0.1:9000"),
        ] {
            assert_eq!(checked_endpoint(endpoint, "e").unwrap(), normalized);
        }
        let unicode = checked_endpoint("http://ünïcödé.example", "e").unwrap();
        assert!(
            unicode.is_ascii() && unicode.starts_with("http://xn--"),
            "{unicode}"
        );
        for endpoint in [
            "https:user:hunter2@host",
            "https:/user:hunter2@host",
            "http://user:hunter2/x@host",
            "http%3A%2F%2Fuser%3Ahunter2%40host",
            "user:hunter2@host",
            "//user:hunter2@host",
            "https://host/?token=hunter2",
            "https://host/#hunter2",
        ] {
            let e = checked_endpoint(endpoint, "the endpoint")
                .unwrap_err()
                .to_string();
            assert!(!e.contains("hunter2"), "{endpoint}: {e}");
        }
    }

    #[test]
    fn buckets_regions_and_options_are_checked_without_echoing_secrets() {
        for url in [
            "b:hunter2@host/p",
            "user:hunter2@b/p",
            "bu ck/p",
            "b/p?endpoint=http://user:pa&hunter2@host",
            "b/p?region=a b&x=hunter2",
            "b/p?region=hunter2/x",
        ] {
            let e = S3Options::from_url(url).unwrap_err().to_string();
            assert!(!e.contains("hunter2"), "{url}: {e}");
        }
        let long = format!("b/p?endpoint={}", "x".repeat(10_000));
        let options = S3Options::from_url(&long).unwrap();
        let e = S3Store::open(&options).err().unwrap().to_string();
        assert!(e.len() < 300, "{} characters", e.len());
    }

    #[test]
    fn malformed_endpoints_are_refused_without_a_panic_or_the_password() {
        for (endpoint, says) in [
            ("not a url", "is not a URL"),
            ("", "is not a URL"),
            ("ftp://host:21", "http:// or https://"),
            ("http://", "is not a URL"),
            ("http://user:hunter2@[::1", "is not a URL"),
            ("file:///etc/passwd", "http:// or https://"),
            ("%%%", "is not a URL"),
        ] {
            let options =
                S3Options::from_url(&format!("bench/p?endpoint={endpoint}&allow_http=true"))
                    .unwrap();
            let err = S3Store::open(&options)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(says), "{endpoint:?}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn plain_http_needs_to_be_allowed() {
        let options = S3Options::from_url("bench/p?endpoint=http://127.0.0.1:1").unwrap();
        let err = S3Store::open(&options).unwrap_err().to_string();
        assert!(err.contains("allow_http=true"), "{err}");
    }

    #[test]
    fn debug_output_names_the_location_only() {
        let store = S3Store::with_object_store(
            Arc::new(object_store::memory::InMemory::new()),
            "p",
            "s3://b/p",
        );
        assert_eq!(
            format!("{store:?}"),
            "S3Store { location: \"s3://b/p\", .. }"
        );
    }

    #[test]
    fn s3_error_bodies_become_one_readable_reason() {
        let text = "Error performing GET http://h/b/x in 1ms - Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\"?> <Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message><RequestId>r</RequestId></Error>";
        assert_eq!(
            s3_reason(text).unwrap(),
            "403 Forbidden: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records."
        );
        assert!(s3_reason("connection refused").is_none());
    }

    #[test]
    fn scrub_removes_the_userinfo_of_urls() {
        let text =
            "Error performing GET http://user:hunter2@127.0.0.1:9/b/k in 1s and https://a@h/x";
        let clean = scrub(text);
        assert!(
            !clean.contains("hunter2") && !clean.contains("user:"),
            "{clean}"
        );
        assert_eq!(
            clean,
            "Error performing GET http://[redacted]@127.0.0.1:9/b/k in 1s and https://[redacted]@h/x"
        );
        assert_eq!(
            core_store::redact_userinfo("s3://bucket/p"),
            "s3://bucket/p"
        );
    }

    #[test]
    fn scrub_removes_credential_looking_words() {
        let text = "GET https://h/b?X-Amz-Credential=AKIA123&X-Amz-Signature=abc failed";
        let clean = scrub(text);
        assert!(
            !clean.contains("AKIA123") && !clean.contains("=abc"),
            "{clean}"
        );
        assert!(
            clean.contains("[redacted]") && clean.ends_with("failed"),
            "{clean}"
        );
    }
}
