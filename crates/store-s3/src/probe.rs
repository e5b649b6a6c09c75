//! What an S3-compatible server guarantees, found by trying it before trusting it.
//!
//! The store is correct only on a server that refuses a create-only put of an existing key
//! (`If-None-Match: *`) and a put with a stale `If-Match`, and that lists an object under its
//! prefix, with and without a delimiter, as soon as it is written. A server that ignores the
//! conditions turns promotion into last-writer-wins (8 concurrent promotions kept 1 of 9 runs
//! on s3rver, 3 of 9 on Garage), and one whose delimiter listing is empty makes runs look
//! deleted. So before its first write a store probes the server under
//! `PREFIX/probe/<nonce>/`, remembers a passing probe in `PREFIX/probe.json` for a day, and
//! refuses to write at all when a guarantee does not hold.

use std::time::{SystemTime, UNIX_EPOCH};

use benchkeep_core::store::{Guarantee, StoreError};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};

use crate::S3Store;

/// How long a passing probe is trusted before the server is probed again.
pub(crate) const PROBE_MAX_AGE_SECONDS: u64 = 24 * 60 * 60;

/// The version of `probe.json`.
const PROBE_FORMAT: u32 = 1;

/// Every guarantee the probe tries, as `probe.json` records them: a record from a probe that
/// tried fewer (an older benchkeep) is not trusted.
const GUARANTEES: [&str; 5] = [
    "conditional create",
    "conditional update",
    "read after write",
    "listing",
    "delimiter listing",
];

/// How far in the future a record's time may be (clocks of CI runners differ a little): a
/// record from further ahead would otherwise be trusted until that time and a day more.
const CLOCK_SKEW_SECONDS: u64 = 300;

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn held(name: &str, detail: &str) -> Guarantee {
    Guarantee::new(name, true, detail)
}

fn broken(name: &str, detail: &str) -> Guarantee {
    Guarantee::new(name, false, detail)
}

impl S3Store {
    fn probe_record(&self) -> Path {
        self.root.clone().join("probe.json")
    }

    /// Tries every guarantee the store relies on, under a fresh `probe/<nonce>/` prefix that it
    /// deletes afterwards. A server that cannot be reached is an error; a guarantee that does
    /// not hold is a `Guarantee` with `held: false` saying what the server did.
    pub(crate) async fn probe(&self) -> Result<Vec<Guarantee>, StoreError> {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let nonce = format!(
            "{}-{}-{}",
            since_epoch.as_secs(),
            std::process::id(),
            since_epoch.subsec_nanos()
        );
        let dir = self.root.clone().join("probe").join(nonce.as_str());
        // Two levels below the listed prefix, as a run is below `runs/` (key, then day): a
        // server may list the prefixes of direct children only.
        let day = dir.clone().join("day");
        let object = day.clone().join("object");
        let mut found = Vec::new();
        self.probe_put(&object, "first", PutMode::Create)
            .await
            .map_err(|e| self.error("probe the server (a create-only put)", e))?;
        let mut expected = "first";

        match self.probe_put(&object, "second", PutMode::Create).await {
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => found.push(held(
                "conditional create",
                "a create-only put (If-None-Match: *) of an existing key is refused",
            )),
            Ok(_) => {
                expected = "second";
                found.push(broken(
                    "conditional create",
                    "the server ignores If-None-Match: *: a second create-only put of the same \
                     key succeeded, so two runs or two first baselines could overwrite each \
                     other",
                ));
            }
            Err(e) => return Err(self.error("probe the server (a second create-only put)", e)),
        }

        found.push(self.probe_update(&object, &mut expected).await?);
        found.push(self.probe_read(&object, expected).await?);
        found.extend(self.probe_listings(&dir, &day, &object).await?);
        // Best effort: a leftover probe object is harmless (nothing reads probe/).
        let _ = self.store.delete(&object).await;
        Ok(found)
    }

    async fn probe_put(
        &self,
        object: &Path,
        payload: &'static str,
        mode: PutMode,
    ) -> object_store::Result<object_store::PutResult> {
        self.store
            .put_opts(
                object,
                PutPayload::from_static(payload.as_bytes()),
                PutOptions {
                    mode,
                    ..PutOptions::default()
                },
            )
            .await
    }

    /// Compare-and-swap: a put with the current `ETag` in `If-Match` must succeed, and one with
    /// the `ETag` it replaced must then fail. Sets `expected` to what the object last became.
    async fn probe_update(
        &self,
        object: &Path,
        expected: &mut &'static str,
    ) -> Result<Guarantee, StoreError> {
        const NAME: &str = "conditional update";
        let if_match = |e_tag: &str| {
            PutMode::Update(UpdateVersion {
                e_tag: Some(e_tag.to_owned()),
                version: None,
            })
        };
        let current = self
            .store
            .head(object)
            .await
            .map_err(|e| self.error("probe the server (read an ETag)", e))?;
        let Some(old_tag) = current.e_tag else {
            return Ok(broken(
                NAME,
                "the server gives objects no ETag to compare with",
            ));
        };
        match self.probe_put(object, "third", if_match(&old_tag)).await {
            Ok(_) => *expected = "third",
            Err(e) => {
                return Ok(broken(
                    NAME,
                    &format!(
                        "a put with the current ETag in If-Match was refused: {}",
                        self.error("probe the server (a conditional put)", e)
                    ),
                ));
            }
        }
        Ok(
            match self.probe_put(object, "fourth", if_match(&old_tag)).await {
                Err(object_store::Error::Precondition { .. }) => held(
                    NAME,
                    "a put with a stale If-Match is refused, a current one accepted",
                ),
                Ok(_) => {
                    *expected = "fourth";
                    broken(
                        NAME,
                        "the server ignores If-Match: a put with a stale ETag succeeded, so \
                     concurrent promotions would overwrite each other (last writer wins)",
                    )
                }
                Err(e) => broken(
                    NAME,
                    &format!(
                        "a put with a stale If-Match failed with another error than a failed \
                     precondition: {}",
                        self.error("probe the server (a stale conditional put)", e)
                    ),
                ),
            },
        )
    }

    /// Whether `object` reads back as `expected`, the last write that succeeded.
    async fn probe_read(&self, object: &Path, expected: &str) -> Result<Guarantee, StoreError> {
        const NAME: &str = "read after write";
        let bytes = match self.store.get(object).await {
            Ok(result) => result
                .bytes()
                .await
                .map_err(|e| self.error("probe the server (read back)", e))?,
            Err(object_store::Error::NotFound { .. }) => {
                return Ok(broken(NAME, "an object just written is not found"));
            }
            Err(e) => return Err(self.error("probe the server (read back)", e)),
        };
        Ok(if bytes.as_ref() == expected.as_bytes() {
            held(NAME, "an object reads back as last written")
        } else {
            broken(
                NAME,
                &format!(
                    "an object written as {expected:?} read back as {:?}",
                    String::from_utf8_lossy(&bytes)
                ),
            )
        })
    }

    /// Whether `object` is listed under `dir` at once, and `dir` among the prefixes of its
    /// parent in a delimiter listing.
    async fn probe_listings(
        &self,
        dir: &Path,
        day: &Path,
        object: &Path,
    ) -> Result<Vec<Guarantee>, StoreError> {
        let mut found = Vec::new();
        let listed = futures::TryStreamExt::try_collect::<Vec<_>>(self.store.list(Some(dir)))
            .await
            .map_err(|e| self.error("probe the server (a listing)", e))?;
        if listed.iter().any(|meta| &meta.location == object) {
            found.push(held(
                "listing",
                "an object is listed under its prefix at once",
            ));
        } else {
            found.push(broken(
                "listing",
                &format!(
                    "an object just written is missing from the listing of its prefix ({} \
                     listed)",
                    listed.len()
                ),
            ));
        }
        // What the store itself reads: delimiter listings at every level of
        // `runs/<key>/<day>/<run>`, prefixes two and one levels up and the objects of a day.
        let parent = self.root.clone().join("probe");
        let mut missing = Vec::new();
        for (listed_dir, wanted, what) in [
            (&parent, dir, "prefix"),
            (dir, day, "prefix"),
            (day, object, "object"),
        ] {
            let listing = self
                .store
                .list_with_delimiter(Some(listed_dir))
                .await
                .map_err(|e| self.error("probe the server (a delimiter listing)", e))?;
            let shown = if what == "prefix" {
                listing.common_prefixes.contains(wanted)
            } else {
                listing.objects.iter().any(|meta| &meta.location == wanted)
            };
            if !shown {
                missing.push(format!(
                    "a listing of {listed_dir}/ with a delimiter does not show the {what} \
                     {wanted} ({} prefixes, {} objects)",
                    listing.common_prefixes.len(),
                    listing.objects.len()
                ));
            }
        }
        if missing.is_empty() {
            found.push(held(
                "delimiter listing",
                "listings with a delimiter show the prefixes and objects under them, at every \
                 level a run is stored at",
            ));
        } else {
            found.push(broken(
                "delimiter listing",
                &format!("{}, so stored runs would look deleted", missing.join("; ")),
            ));
        }
        Ok(found)
    }

    /// Whether a passing probe of this prefix less than a day old is recorded.
    async fn recent_probe_passed(&self) -> Result<bool, StoreError> {
        let Some((bytes, _)) = self.read(&self.probe_record(), "read probe.json").await? else {
            return Ok(false);
        };
        let Ok(record) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            return Ok(false);
        };
        let now = now_seconds();
        let recorded: Option<Vec<&str>> = record["guarantees"]
            .as_array()
            .map(|names| names.iter().filter_map(serde_json::Value::as_str).collect());
        let fresh = record["format"] == PROBE_FORMAT
            && record["passed"] == true
            && recorded.is_some_and(|names| GUARANTEES.iter().all(|g| names.contains(g)))
            && record["checked_at"].as_u64().is_some_and(|at| {
                at <= now + CLOCK_SKEW_SECONDS && now.saturating_sub(at) < PROBE_MAX_AGE_SECONDS
            });
        Ok(fresh)
    }

    /// Probes the server and records a passing probe; returns what it found.
    pub(crate) async fn probe_and_record(&self) -> Result<Vec<Guarantee>, StoreError> {
        let found = self.probe().await?;
        if found.iter().all(|g| g.held) {
            let record = serde_json::json!({
                "format": PROBE_FORMAT,
                "passed": true,
                "checked_at": now_seconds(),
                "guarantees": found.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            });
            self.store
                .put(&self.probe_record(), PutPayload::from(record.to_string()))
                .await
                .map_err(|e| self.error("record the probe (probe.json)", e))?;
        }
        Ok(found)
    }

    /// Before the first write of this process: a passing probe recorded within a day, or a
    /// probe now. A guarantee that does not hold refuses every write, naming what the server
    /// did and what to use instead.
    pub(crate) async fn ensure_guarantees(&self) -> Result<(), StoreError> {
        if self.probed.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(());
        }
        if !self.recent_probe_passed().await? {
            let found = self.probe_and_record().await?;
            if let Some(failed) = found.iter().find(|g| !g.held) {
                return Err(StoreError::Backend {
                    store: self.description.clone(),
                    operation: "check what the server guarantees before writing".into(),
                    transient: false,
                    source: format!(
                        "{}: {}. benchkeep needs conditional writes and consistent listings to \
                         never lose a run or a promotion: use a server that has them (AWS S3, \
                         MinIO; docs/stores/s3.md lists what was tested), or the git store \
                         (git:BRANCH). Nothing was written; `benchkeep store check` shows \
                         every guarantee",
                        failed.name, failed.detail
                    )
                    .into(),
                });
            }
        }
        self.probed
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use benchkeep_core::key::BaselineKey;
    use benchkeep_core::model::{Fingerprint, Run, RunId};
    use benchkeep_core::store::Store;
    use object_store::memory::InMemory;
    use object_store::path::Path;
    use object_store::{ObjectStore, ObjectStoreExt};

    use crate::S3Store;

    fn run(index: u64) -> Run {
        let at = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        Run::new(
            RunId::new(at, index),
            at,
            BaselineKey::new("main", "test").unwrap(),
            Fingerprint::default(),
        )
    }

    /// A server that keeps every promise (`object_store`'s in-memory one does) passes, the pass
    /// is recorded in probe.json, and the probe cleans up after itself.
    #[tokio::test]
    async fn a_passing_probe_is_recorded_and_leaves_nothing_behind() {
        let memory = Arc::new(InMemory::new());
        let store = S3Store::with_object_store(memory.clone(), "proj", "memory");
        let found = store.check_guarantees().await.unwrap();
        assert_eq!(found.len(), 5, "{found:?}");
        assert!(found.iter().all(|g| g.held), "{found:?}");
        let record = memory
            .get(&Path::from("proj/probe.json"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let record: serde_json::Value = serde_json::from_slice(&record).unwrap();
        assert_eq!(record["passed"], true);
        let left: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(
            memory.list(Some(&Path::from("proj/probe"))),
        )
        .await
        .unwrap();
        assert!(left.is_empty(), "{left:?}");

        // A fresh process trusts the record, writes, and has probed nothing more.
        let again = S3Store::with_object_store(memory.clone(), "proj", "memory");
        again.append_run(&run(1)).await.unwrap();
        assert!(again.probed.load(std::sync::atomic::Ordering::Acquire));
    }

    /// A record older than a day, from the future, of another format or from a probe that
    /// tried fewer guarantees is not trusted: the server is probed again before the first
    /// write.
    #[tokio::test]
    async fn an_untrustworthy_record_is_probed_again() {
        let now = super::now_seconds();
        let good = serde_json::json!({
            "format": super::PROBE_FORMAT,
            "passed": true,
            "checked_at": now,
            "guarantees": super::GUARANTEES,
        });
        let with = |field: &str, value: serde_json::Value| {
            let mut record = good.clone();
            record[field] = value;
            record
        };
        let memory = Arc::new(InMemory::new());
        let store = S3Store::with_object_store(memory.clone(), "proj", "memory");
        let record = Path::from("proj/probe.json");
        memory.put(&record, good.to_string().into()).await.unwrap();
        assert!(store.recent_probe_passed().await.unwrap(), "the control");
        for (what, bad) in [
            (
                "a day old",
                with(
                    "checked_at",
                    (now - super::PROBE_MAX_AGE_SECONDS - 1).into(),
                ),
            ),
            ("from the future", with("checked_at", (now + 3600).into())),
            ("in milliseconds", with("checked_at", (now * 1000).into())),
            ("another format", with("format", 99.into())),
            ("a failed probe", with("passed", false.into())),
            (
                "fewer guarantees",
                with("guarantees", serde_json::json!(["conditional create"])),
            ),
        ] {
            memory.put(&record, bad.to_string().into()).await.unwrap();
            assert!(
                !store.recent_probe_passed().await.unwrap(),
                "{what} was trusted"
            );
        }
        store.append_run(&run(2)).await.unwrap();
        assert!(
            store.recent_probe_passed().await.unwrap(),
            "the new probe was recorded"
        );
    }
}
