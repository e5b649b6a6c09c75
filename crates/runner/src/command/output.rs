//! `--check-output`: each execution's standard output, compared with the first execution's.
//! A benchmark whose output changes from run to run is usually not measuring one thing (a
//! cache that fills, a network answer, a flaky failure that still exits 0).

use std::fs::File;
use std::hash::Hasher;
use std::io::{Read, Seek, SeekFrom};

use super::{Executor, MeasureOptions, OutputMode};

/// Where executions write their output, and what the first one wrote.
#[derive(Debug)]
pub(super) struct Outputs {
    file: File,
    first: Option<(u64, u64)>,
    compared: u32,
    differed: u32,
}

impl Outputs {
    /// The output file when `options` ask for the check (and output is not shown instead).
    pub(super) fn for_options(options: &MeasureOptions) -> std::io::Result<Option<Self>> {
        if !options.check_output || options.output == OutputMode::Inherit {
            return Ok(None);
        }
        Ok(Some(Outputs {
            file: tempfile::tempfile()?,
            first: None,
            compared: 0,
            differed: 0,
        }))
    }

    /// A handle executions write their standard output to.
    pub(super) fn writer(&self) -> std::io::Result<File> {
        self.file.try_clone()
    }

    /// Compares what the last execution wrote with the first's (length and a hash of the
    /// bytes), and empties the file for the next.
    pub(super) fn compare(&mut self) -> std::io::Result<()> {
        self.file.seek(SeekFrom::Start(0))?;
        let mut hasher = std::hash::DefaultHasher::new();
        let mut buffer = [0u8; 16 * 1024];
        let mut length = 0u64;
        loop {
            let read = self.file.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            hasher.write(&buffer[..read]);
            length += read as u64;
        }
        // The child shares this file description: resetting it resets the next one's writes.
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        let this = (length, hasher.finish());
        self.compared += 1;
        match self.first {
            None => self.first = Some(this),
            Some(first) if first != this => self.differed += 1,
            Some(_) => {}
        }
        Ok(())
    }
}

impl Executor<'_> {
    /// With the check: how many executions wrote another output than the first, of how many.
    pub(super) fn output_differed(&self) -> Option<(u32, u32)> {
        self.output.as_ref().map(|o| (o.differed, o.compared))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CommandSpec, Interrupt, NoProgress, RunCount, measure};
    use super::*;

    fn checked(script: &str, dir: &std::path::Path) -> Option<(u32, u32)> {
        let mut spec = CommandSpec::new(["sh", "-c", script]);
        spec.cwd = Some(dir.to_owned());
        let options = MeasureOptions {
            warmup: 1,
            runs: RunCount::Fixed(4),
            check_output: true,
            ..MeasureOptions::default()
        };
        measure(&spec, &options, &Interrupt::new(), &mut NoProgress)
            .unwrap()
            .output_differed
    }

    #[test]
    fn output_that_changes_between_executions_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(checked("echo same", dir.path()), Some((0, 5)));
        // A counter file: every execution prints another number.
        let counting = "n=$(cat n 2>/dev/null || echo 0); echo $((n + 1)) > n; cat n";
        assert_eq!(checked(counting, dir.path()), Some((4, 5)));
        // Not asked: not checked, and output goes to /dev/null as before.
        let spec = CommandSpec::new(["echo", "x"]);
        let plain = measure(
            &spec,
            &MeasureOptions::default(),
            &Interrupt::new(),
            &mut NoProgress,
        )
        .unwrap();
        assert_eq!(plain.output_differed, None);
    }
}
