//! `compare`: two recorded runs (files or ids in the store), gated as `check` gates.

use std::path::Path;

use benchkeep_core::model::{Run, RunId};
use benchkeep_core::store::Store;
use benchkeep_report::{Context, VerdictDocument};

use crate::load::note_scaling_regressions;
use crate::measure::{complete, read_run_file};
use crate::session::Session;
use crate::settings::CompareFlags;
use crate::{Context as _, Error, gate};

impl Session {
    /// `benchkeep compare BASE HEAD`: each a run file or a run id in the store. The verdict
    /// document, judged by the configuration's gate with `flags`.
    ///
    /// # Errors
    ///
    /// Unreadable or incomplete runs, invalid settings, [`Error::Unjudged`].
    pub fn compare_runs(
        &self,
        base: &str,
        head: &str,
        flags: &CompareFlags,
    ) -> Result<VerdictDocument, Error> {
        let file = |source: &str| Some(self.path(Path::new(source))).filter(|p| p.is_file());
        let needs_store = [base, head].iter().any(|s| file(s).is_none());
        let (base_run, head_run) = if needs_store {
            let store = self.store()?;
            (
                self.load_run(store.as_ref(), base)?,
                self.load_run(store.as_ref(), head)?,
            )
        } else {
            // Two files: decode them in parallel (a large run takes tens of milliseconds).
            let (base, head) = (Path::new(base), Path::new(head));
            let (base_path, head_path) = (self.path(base), self.path(head));
            std::thread::scope(|scope| {
                let head = scope.spawn(|| read_run_file(&head_path, head));
                let base = read_run_file(&base_path, base);
                let head = head
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                Ok::<_, Error>((base?, head?))
            })?
        };
        let judged = gate::compare_benchmarks(
            &self.config,
            flags,
            &base_run.benchmarks,
            &head_run.benchmarks,
        )?;
        for warning in &judged.warnings {
            self.notice(&format!("warning: {warning}"));
        }
        let (mut comparison, passed) = (judged.comparison, judged.passed);
        note_scaling_regressions(&mut comparison);
        let context = Context {
            subject: format!("{base} -> {head}"),
            baseline_runs: vec![base_run.id.to_string()],
            current_run: head_run.id.to_string(),
            current_commit: head_run.git.as_ref().and_then(|g| g.commit.clone()),
            baseline_commits: base_run
                .git
                .iter()
                .filter_map(|g| g.commit.clone())
                .collect(),
            job_url: head_run.ci.as_ref().and_then(|c| c.url.clone()),
            ..Context::default()
        };
        Ok(VerdictDocument::new(&comparison, context, passed))
    }

    /// A run from a file path, or by id from the store.
    ///
    /// # Errors
    ///
    /// Neither a file nor an id; the store failing; an incomplete run.
    pub fn load_run(&self, store: &dyn Store, source: &str) -> Result<Run, Error> {
        if self.path(Path::new(source)).is_file() {
            return self.load_run_file(Path::new(source));
        }
        let id: RunId = source.parse().map_err(|e| {
            Error::Invalid(format!(
                "{source:?} is neither a run file nor a run id ({e})"
            ))
        })?;
        let run = self
            .block_on(store.get_run(&id))
            .with_context(|| format!("cannot load run {id}"))?;
        complete(run, &format!("run {id}"))
    }
}
