//! `benchkeep import` and `check --import`: another harness's results as a run.

use std::path::{Path, PathBuf};

use benchkeep_core::model::Run;
use benchkeep_import::{self as import, Format, ImportOptions};

use crate::Error;
use crate::measure::{RecordOptions, complete};
use crate::session::{KeyOverrides, Session};

/// Another harness's output to read as a run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ImportRequest {
    /// The format's name (`criterion`, `libtest`, `hyperfine`, ...).
    pub format: String,
    /// The file; `-` for standard input.
    pub file: PathBuf,
    /// How to read it.
    pub options: ImportOptions,
}

impl ImportRequest {
    /// Reads `file` as `format` with the default options.
    #[must_use]
    pub fn new(format: impl Into<String>, file: impl Into<PathBuf>) -> Self {
        ImportRequest {
            format: format.into(),
            file: file.into(),
            options: ImportOptions::default(),
        }
    }
}

impl Session {
    /// A new run (this machine, git and CI, the key) holding the benchmarks of the request's
    /// file read as its format.
    ///
    /// # Errors
    ///
    /// An unknown format, an unreadable file, output the importer refuses (naming the line or
    /// field), a run with nothing a gate could use.
    pub fn imported_run(
        &self,
        request: &ImportRequest,
        key: &KeyOverrides,
        record: &RecordOptions,
    ) -> Result<Run, Error> {
        let format: Format = request
            .format
            .parse()
            .map_err(|e: benchkeep_import::UnknownFormat| Error::Invalid(e.to_string()))?;
        let file = &request.file;
        let imported = if file == Path::new("-") {
            let bytes = import::read_limited(std::io::stdin(), "<stdin>", request.options)?;
            import::import_bytes_with(format, "<stdin>", &bytes, request.options)?
        } else {
            import::import_path_with(format, &self.path(file), request.options)?
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
        let run = complete(run, &format!("{} (imported as {format})", file.display()))?;
        self.detail(&format!(
            "imported {} benchmark(s) from {} as {format}",
            run.benchmarks.len(),
            file.display()
        ));
        Ok(run)
    }

    /// `benchkeep import`: the imported run, written to `--out` and recorded.
    ///
    /// # Errors
    ///
    /// As [`Session::imported_run`], and the store or the file failing.
    pub fn import(
        &self,
        request: &ImportRequest,
        key: &KeyOverrides,
        record: &RecordOptions,
    ) -> Result<Run, Error> {
        let (run, ()) = self.make_and_record(record, || {
            Ok((self.imported_run(request, key, record)?, ()))
        })?;
        Ok(run)
    }
}
