//! The command line's arguments as the engine's requests: the only place flags meet the
//! engine, so each flag is read in one place and every default is the engine's.

use benchkeep_engine::KeyOverrides;
use benchkeep_engine::ab::{AbRequest, PairedRequest};
use benchkeep_engine::baseline::{AcceptRequest, SetRequest};
use benchkeep_engine::check::{CheckRequest, RunSource};
use benchkeep_engine::config::RunDefaults;
use benchkeep_engine::dashboard::SiteRequest;
use benchkeep_engine::import::ImportRequest;
use benchkeep_engine::init::{CiSystem as InitCi, InitRequest};
use benchkeep_engine::load::LoadRequest;
use benchkeep_engine::measure::{HookCommands, MeasureRequest, RecordOptions};
use benchkeep_engine::prune::PruneRequest;
use benchkeep_engine::report::measurements::Export;
use benchkeep_engine::scan::Parameter;
use benchkeep_engine::trend::TrendRequest;

use crate::args::{
    AbArgs, BaselineAcceptArgs, BaselineSetArgs, CheckArgs, CiSystem, ImportArgs, InitArgs,
    KeyArgs, LoadArgs, MeasureArgs, PruneArgs, RecordArgs, ReportArgs, TrendArgs,
};

impl KeyArgs {
    /// `--branch` and `--platform`.
    pub(crate) fn overrides(&self) -> KeyOverrides {
        KeyOverrides::new(self.branch.clone(), self.platform.clone())
    }
}

impl RecordArgs {
    /// `--out`, `--no-record`, `--label`.
    pub(crate) fn options(&self) -> RecordOptions {
        let mut options = RecordOptions::default();
        options.out.clone_from(&self.out);
        options.no_record = self.no_record;
        options.labels.clone_from(&self.labels);
        options
    }
}

impl MeasureArgs {
    /// What to measure, with the flags' measurement settings.
    ///
    /// # Errors
    ///
    /// A parameter scan or list that makes no sense (`-P x 5 1`, `-L x a,a`).
    pub(crate) fn request(&self) -> Result<MeasureRequest, benchkeep_engine::Error> {
        let settings = RunDefaults {
            runs: self.runs,
            warmup: self.warmup,
            min_time: self.min_time,
            min_runs: self.min_runs,
            max_runs: self.max_runs,
            timeout: self.timeout,
        };
        let mut request = MeasureRequest::command(self.command.iter().cloned());
        match self.shell.as_deref() {
            // hyperfine's way of saying -N.
            Some("none") => request.no_shell = true,
            Some(shell) => {
                let only_words = self.commands.is_empty() && self.command.is_empty();
                if shell.trim().is_empty() || (only_words && shell.contains(char::is_whitespace)) {
                    return Err(benchkeep_engine::Error::Invalid(format!(
                        "--shell takes a shell program (--shell bash, or --shell before --), not {shell:?}; a command goes after it"
                    )));
                }
                request.shell = true;
                request.shell_program = Some(shell.to_owned());
            }
            None => {}
        }
        request.no_shell |= self.no_shell;
        request.input.clone_from(&self.input);
        request.check_output = self.check_output;
        request.ignore_failure = self.ignore_failure;
        request.commands.clone_from(&self.commands);
        request.names.clone_from(&self.name);
        request.hooks = HookCommands::default();
        request.hooks.setup.clone_from(&self.setup);
        request.hooks.prepare.clone_from(&self.prepare);
        request.hooks.conclude.clone_from(&self.conclude);
        request.hooks.cleanup.clone_from(&self.cleanup);
        request.exports = [
            (Export::Json, &self.export_json),
            (Export::Markdown, &self.export_markdown),
            (Export::Csv, &self.export_csv),
        ]
        .into_iter()
        .filter_map(|(export, path)| path.clone().map(|path| (export, path)))
        .collect();
        if let [name, min, max] = self.parameter_scan.as_slice() {
            let step = self.parameter_step.as_deref();
            request
                .parameters
                .push(Parameter::scan(name, min, max, step)?);
        }
        for pair in self.parameter_list.chunks(2) {
            if let [name, values] = pair {
                request.parameters.push(Parameter::list(name, values)?);
            }
        }
        request.benches.clone_from(&self.benches);
        request.settings = settings;
        request.show_output = self.show_output;
        request.instructions = self.instructions;
        request.keep_background = self.keep_background;
        Ok(request)
    }
}

impl MeasureArgs {
    /// Whether the command line gives several commands, or scans one: then how they compare
    /// is worth showing.
    pub(crate) fn several_commands(&self) -> bool {
        self.commands.len() + usize::from(!self.command.is_empty()) > 1
            || !self.parameter_scan.is_empty()
            || !self.parameter_list.is_empty()
    }
}

impl CheckArgs {
    /// The stored check.
    ///
    /// # Errors
    ///
    /// As [`MeasureArgs::request`].
    pub(crate) fn request(&self) -> Result<CheckRequest, benchkeep_engine::Error> {
        let source = if let Some(path) = &self.run {
            RunSource::File(path.clone())
        } else if let [format, file] = self.import.as_slice() {
            let mut import = ImportRequest::new(format, file);
            import.options = self.read.options();
            RunSource::Import(import)
        } else {
            RunSource::Measure
        };
        let mut request = CheckRequest::new(source);
        request.measure = self.measure.request()?;
        request.key = self.key.overrides();
        request.record = self.record.options();
        request.compare = self.compare.flags();
        request.require_baseline = self.require_baseline;
        request.baseline_branch.clone_from(&self.baseline_branch);
        request.merge_base = self.merge_base;
        request.confirm = self.confirm;
        request.promote = self.promote;
        request.promote_on.clone_from(&self.promote_on);
        request.environment = self.environment;
        request.speed_probe = self.speed_probe;
        request.max_looks = self.max_looks;
        request.max_time = self.max_time;
        Ok(request)
    }

    /// `check --pr`'s paired settings.
    pub(crate) fn paired(&self) -> PairedRequest {
        let measure = &self.measure;
        let mut request = PairedRequest::default();
        request.rounds = self.rounds;
        request.max_rounds = self.max_rounds;
        request.max_time = self.max_time;
        request.warmup = measure.warmup;
        request.timeout = measure.timeout;
        request.show_output = measure.show_output;
        request.seed = self.seed;
        request.confirm = self.confirm;
        request.compare = self.compare.flags();
        request.build.clone_from(&self.build);
        request.command.clone_from(&measure.command);
        request.shell = measure.shell.is_some();
        request.name = measure.name.first().cloned();
        request.benches.clone_from(&measure.benches);
        request.keep_background = measure.keep_background;
        request
    }
}

impl AbArgs {
    /// `ab`'s request.
    pub(crate) fn request(&self) -> AbRequest {
        let mut paired = PairedRequest::default();
        paired.rounds = self.rounds;
        paired.max_rounds = self.max_rounds;
        paired.max_time = self.max_time;
        paired.warmup = self.warmup;
        paired.timeout = self.timeout;
        paired.show_output = self.show_output;
        paired.seed = self.seed;
        paired.confirm = self.confirm;
        paired.compare = self.compare.flags();
        paired.build.clone_from(&self.build);
        paired.command.clone_from(&self.command);
        paired.name.clone_from(&self.name);
        paired.benches.clone_from(&self.benches);
        paired.keep_background = self.keep_background;
        let mut request = AbRequest::default();
        request.paired = paired;
        request.base.clone_from(&self.base);
        request.head.clone_from(&self.head);
        request.base_ref.clone_from(&self.base_ref);
        request
    }
}

impl ImportArgs {
    /// What to import.
    pub(crate) fn request(&self) -> ImportRequest {
        let mut request = ImportRequest::new(&self.format, &self.file);
        request.options = self.read.options();
        request
    }
}

impl PruneArgs {
    /// What to prune.
    pub(crate) fn request(&self) -> PruneRequest {
        let mut request = PruneRequest::default();
        request.keep_last = self.keep_last;
        request.older_than = self.older_than;
        request.only_key = self.only_key.then(|| self.key.overrides());
        request.dry_run = self.dry_run;
        request.squash_history = self.squash_history;
        request
    }
}

impl TrendArgs {
    /// What to analyse.
    pub(crate) fn request(&self) -> TrendRequest {
        let mut request = TrendRequest::default();
        request.name.clone_from(&self.name);
        request.key = self.key.overrides();
        request.metric.clone_from(&self.metric);
        request.window = self.window;
        request.min_change = self.min_change;
        request.p_value = self.p_value;
        request
    }
}

impl LoadArgs {
    /// What to load.
    pub(crate) fn request(&self) -> LoadRequest {
        let mut request = LoadRequest::default();
        request.concurrency.clone_from(&self.concurrency);
        request.ramp.clone_from(&self.ramp);
        request.duration.clone_from(&self.duration);
        request.ramp_up.clone_from(&self.ramp_up);
        request.requests = self.requests;
        request.rate = self.rate;
        request.timeout.clone_from(&self.timeout);
        request.leak_check = self.leak_check;
        request.iterations = self.iterations;
        request.name.clone_from(&self.name);
        request.command.clone_from(&self.command);
        request
    }
}

impl BaselineSetArgs {
    /// `baseline set`'s request.
    pub(crate) fn request(&self) -> SetRequest {
        let mut request = SetRequest::default();
        request.from.clone_from(&self.from);
        request.last = self.last;
        request.force = self.force;
        request.key = self.key.overrides();
        request
    }
}

impl BaselineAcceptArgs {
    /// `baseline accept`'s request.
    pub(crate) fn request(&self) -> AcceptRequest {
        let mut request = AcceptRequest::default();
        request.reason.clone_from(&self.reason);
        request.from.clone_from(&self.from);
        request.force = self.force;
        request.key = self.key.overrides();
        request
    }
}

impl InitArgs {
    /// `init`'s request.
    pub(crate) fn request(&self) -> InitRequest {
        let mut request = InitRequest::new();
        request.store.clone_from(&self.store);
        request.ci = self.ci.map(|ci| match ci {
            CiSystem::Github => InitCi::Github,
            CiSystem::Gitlab => InitCi::Gitlab,
        });
        request.main_branch.clone_from(&self.main_branch);
        request.bench.clone_from(&self.bench);
        request.build.clone_from(&self.build);
        request.force = self.force;
        request.dir.clone_from(&self.dir);
        request
    }
}

impl ReportArgs {
    /// Which runs the dashboard shows.
    pub(crate) fn request(&self) -> SiteRequest {
        let mut request = SiteRequest::default();
        request.key.clone_from(&self.key);
        request.since.clone_from(&self.since);
        request.max_runs = self.max_runs;
        request
    }
}
