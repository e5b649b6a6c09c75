//! `benchkeep import` and `check --import`: another harness's results as a run.

use std::io::Read as _;
use std::path::Path;

use anyhow::{Context as _, Result, anyhow};
use benchkeep_core::model::Run;
use benchkeep_import::{self as import, Format, ImportOptions};

use super::{App, Outcome, emit};
use crate::args::{ImportArgs, KeyArgs, RecordArgs};
use benchkeep_report as report;

impl App {
    pub(super) fn import(&self, args: &ImportArgs) -> Result<Outcome> {
        // Open the store first: a bad --store should fail before anything is read.
        let store = if args.record.no_record {
            None
        } else {
            Some(self.store()?)
        };
        let run = self.imported_run(
            &args.format,
            &args.file,
            &args.key,
            &args.record,
            args.read.options(),
        )?;
        emit(&report::run_summary(&run.benchmarks))?;
        self.write_out_file(&run, &args.record)?;
        if let Some(store) = store {
            self.record(store.as_ref(), &run, &args.record)?;
        }
        Ok(Outcome::Passed)
    }

    /// A new run (this machine, git and CI, the key) holding the benchmarks of `file` (`-` for
    /// standard input) read as `format`.
    pub(super) fn imported_run(
        &self,
        format: &str,
        file: &Path,
        key: &KeyArgs,
        record: &RecordArgs,
        options: ImportOptions,
    ) -> Result<Run> {
        let format: Format = format.parse().map_err(|e| anyhow!("{e}"))?;
        let imported = if file == Path::new("-") {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
            import::import_bytes_with(format, "<stdin>", &bytes, options)?
        } else {
            import::import_path_with(format, file, options)?
        };
        let mut run = self.new_run(key, record)?;
        // The run's own labels (--label) win over what the input says about itself.
        for (name, value) in imported.labels {
            run.labels.entry(name).or_insert(value);
        }
        run.labels
            .entry("import.format".into())
            .or_insert_with(|| format.name().to_owned());
        if run.fingerprint.toolchain.is_none() {
            run.fingerprint.toolchain = imported.toolchain;
        }
        run.benchmarks = imported.benchmarks;
        let run = super::complete(run, &format!("{} (imported as {format})", file.display()))?;
        self.detail(&format!(
            "imported {} benchmark(s) from {} as {format}",
            run.benchmarks.len(),
            file.display()
        ));
        Ok(run)
    }
}
