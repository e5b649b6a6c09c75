//! The dashboard's data: every key's runs and baseline read from the store and analysed
//! (`benchkeep_report::dashboard` renders it).

use std::collections::BTreeMap;
use std::time::Instant;

use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::Run;
use benchkeep_core::store::{RunQuery, StoreError};
use benchkeep_report::dashboard::{KeyView, Site, key_view};
use jiff::Timestamp;

use crate::session::Session;
use crate::settings::CompareFlags;
use crate::{Context as _, Error, bail};

/// Runs charted per key unless the request says otherwise.
pub const DEFAULT_MAX_RUNS: usize = 1000;

/// Which runs the dashboard shows.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SiteRequest {
    /// Only this key, `BRANCH@PLATFORM`.
    pub key: Option<String>,
    /// Only runs since this date (`YYYY-MM-DD`) or RFC 3339 time.
    pub since: Option<String>,
    /// Each key's newest this many runs ([`DEFAULT_MAX_RUNS`]).
    pub max_runs: Option<usize>,
}

impl Session {
    /// The dashboard's data: every key's newest runs, its baseline and the newest run's
    /// verdict against it, analysed for change points. What cannot be read is named in
    /// [`Site::skipped`], not fatal.
    ///
    /// # Errors
    ///
    /// A malformed key or date, the store failing to list runs.
    pub fn site(&self, request: &SiteRequest) -> Result<Site, Error> {
        let started = Instant::now();
        let key = request.key.as_deref().map(parse_key).transpose()?;
        let since = request.since.as_deref().map(parse_since).transpose()?;
        let max_runs = request.max_runs.unwrap_or(DEFAULT_MAX_RUNS);
        if max_runs == 0 {
            bail!("--max-runs must be at least 1");
        }
        self.collect_site(key.as_ref(), since, max_runs, started)
    }

    /// Reads the store and analyses every key: the data of the site.
    fn collect_site(
        &self,
        key: Option<&BaselineKey>,
        since: Option<Timestamp>,
        max_runs: usize,
        started: Instant,
    ) -> Result<Site, Error> {
        let store = self.store()?;
        let scan = self
            .block_on(store.scan_runs(&RunQuery {
                key: key.cloned(),
                since,
                ..RunQuery::default()
            }))
            .with_context(|| format!("cannot list the runs in {}", store.location()))?;
        self.detail(&format!(
            "read {} run(s) in {:.2} s",
            scan.runs.len(),
            started.elapsed().as_secs_f64()
        ));
        let mut skipped: Vec<String> = scan.unreadable.iter().map(ToString::to_string).collect();
        skipped.extend(self.sources_not_listed(store.as_ref(), key, since, &scan));
        // Newest first from the store; each key keeps its newest `max_runs`, charted oldest first.
        let mut by_key: BTreeMap<BaselineKey, Vec<Run>> = BTreeMap::new();
        for run in scan.runs {
            let runs = by_key.entry(run.key.clone()).or_default();
            if runs.len() < max_runs {
                runs.push(run);
            }
        }
        let config = self.compare_config(&CompareFlags::default())?;
        let mut keys = Vec::new();
        for (key, mut runs) in by_key {
            runs.reverse();
            let baseline = match self.block_on(store.get_baseline(&key)) {
                Ok(found) => Some(found.value),
                Err(StoreError::NotFound { .. }) => None,
                Err(e) => {
                    skipped.push(format!("baseline of {key}: {e}"));
                    None
                }
            };
            let mut config = config.clone();
            let latest = runs.last().map_or(&[][..], |r| &r.benchmarks[..]);
            config.policies = self.policies_for(
                baseline.as_ref().map_or(&[][..], |b| &b.benchmarks[..]),
                latest,
            )?;
            keys.push(key_view(
                &key,
                &runs,
                baseline.as_ref(),
                &config,
                &mut skipped,
            ));
        }
        // The keys with the newest runs first.
        keys.sort_by_key(|v: &KeyView| {
            std::cmp::Reverse(
                v.series
                    .iter()
                    .filter_map(|s| s.points.last().map(|p| p.timestamp))
                    .max(),
            )
        });
        Ok(Site {
            source: store.location(),
            generated: Timestamp::now(),
            keys,
            skipped,
        })
    }
}

impl Session {
    /// The baselines' source runs that the listing of runs did not show: a listing that misses
    /// runs (an S3-compatible server that lists no prefixes), or runs removed outside
    /// benchkeep. "Cannot list" is never taken for "deleted": each becomes a skipped item, so
    /// `report` exits 4 naming them instead of drawing a store with fewer runs.
    fn sources_not_listed(
        &self,
        store: &dyn benchkeep_core::store::Store,
        key: Option<&BaselineKey>,
        since: Option<Timestamp>,
        scan: &benchkeep_core::store::RunScan,
    ) -> Vec<String> {
        let baselines = match key {
            // An unreadable baseline is named where the key's view reads it.
            Some(key) => self
                .block_on(store.get_baseline(key))
                .map_or_else(|_| Vec::new(), |found| vec![found.value]),
            None => match self.block_on(store.list_baselines()) {
                Ok(found) => found.into_iter().map(|v| v.value).collect(),
                Err(e) => return vec![format!("cannot list the baselines: {e}")],
            },
        };
        let mut skipped = Vec::new();
        for baseline in baselines {
            let missing: Vec<String> = baseline
                .sources
                .iter()
                .filter(|source| since.is_none_or(|since| source.run.timestamp() >= since))
                .filter(|source| !scan.listed(&source.run))
                // With --key only that key's runs were listed, and a baseline may be made of
                // another key's runs (`baseline set --from`): look those up one by one.
                .filter(|source| {
                    key.is_none() || self.block_on(store.get_run(&source.run)).is_err()
                })
                .map(|source| source.run.to_string())
                .collect();
            if let Some(first) = missing.first() {
                skipped.push(format!(
                    "baseline of {}: {} of its {} source run(s) are not in the store's listing \
                     of runs ({first}{}): the listing misses runs, or they were removed outside \
                     benchkeep",
                    baseline.key,
                    missing.len(),
                    baseline.sources.len(),
                    if missing.len() > 1 { ", ..." } else { "" }
                ));
            }
        }
        skipped
    }
}

/// `branch@platform` (the platform is after the last `@`).
fn parse_key(text: &str) -> Result<BaselineKey, Error> {
    let (branch, platform) = text.rsplit_once('@').ok_or_else(|| {
        Error::Invalid(format!(
            "--key {text:?} is not BRANCH@PLATFORM (e.g. main@linux-x86_64)"
        ))
    })?;
    BaselineKey::new(branch, platform).map_err(|e| Error::Invalid(format!("--key {text:?}: {e}")))
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time.
fn parse_since(text: &str) -> Result<Timestamp, Error> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    let date: jiff::civil::Date = text.parse().map_err(|_| {
        Error::Invalid(format!(
            "--since {text:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"
        ))
    })?;
    Ok(date
        .to_datetime(jiff::civil::Time::midnight())
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .map_err(|e| Error::Invalid(format!("--since {text:?}: {e}")))?
        .timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_dates_parse_or_say_what_they_need() {
        let key = parse_key("feature@x@linux-x86_64").unwrap();
        assert_eq!(
            (key.branch.as_str(), key.platform.as_str()),
            ("feature@x", "linux-x86_64")
        );
        assert!(
            parse_key("main")
                .unwrap_err()
                .to_string()
                .contains("BRANCH@PLATFORM")
        );
        assert_eq!(
            parse_since("2026-11-01").unwrap(),
            "2026-11-01T00:00:00Z".parse::<Timestamp>().unwrap()
        );
        assert!(parse_since("2026-11-01T12:00:00Z").is_ok());
        assert!(
            parse_since("last tuesday")
                .unwrap_err()
                .to_string()
                .contains("YYYY-MM-DD")
        );
    }
}
