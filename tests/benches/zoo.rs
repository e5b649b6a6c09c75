//! The workload-zoo detection benchmark (issue 14, item 6): how often does the real `benchkeep`
//! binary catch a slowdown, and how often does it cry wolf, on workloads users run, under
//! background load that changes while it measures?
//!
//! `tests/benches/detection.rs` measures one calibrated spin loop on a quiet machine through the
//! library; this drives the binary as a black box (`BENCHKEEP_BIN`, default
//! `target/release/benchkeep`), so it measures whatever statistics that binary has:
//!
//! - **paired**: `benchkeep ab --base CMD --head SLOWED_CMD --format json` (default settings, plus
//!   `ZOO_AB_ARGS`), under each load phase of `ZOO_PHASES`;
//! - **stored**: per trial group a fresh file store, 10 `benchkeep run` jobs of the unslowed
//!   command under one load phase, `baseline set --last 10`, then one `check --no-record --format
//!   json` per effect (plus `ZOO_CHECK_ARGS`) under another (`ZOO_STORED_PHASES`, `base>check`);
//! - **simple rules** beside both, on the samples behind the same verdict (fixed threshold on
//!   medians, Mann-Whitney U);
//! - **harness outputs**: other tools' outputs with one benchmark 20% slower, imported and
//!   compared (deterministic).
//!
//! Run `cargo build --release -p benchkeep` first, then
//! `cargo bench -p benchkeep-tests --bench zoo` (hours) or `ZOO_QUICK=1 ...` (a smoke run of about
//! 3 minutes). Settings: docs/DETECTION.md, "The workload zoo".

#[path = "zoo/cli.rs"]
mod cli;
#[path = "zoo/harness_outputs.rs"]
mod harness_outputs;
#[path = "zoo/load.rs"]
mod load;
#[path = "zoo/report.rs"]
mod report;
#[path = "zoo/stats.rs"]
mod stats;
#[path = "zoo/trials.rs"]
mod trials;
#[path = "zoo/workloads.rs"]
mod workloads;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cli::Benchkeep;
use load::{Load, Phase};
use trials::{Measured, Mode, StoredBaseline, Trial};
use workloads::{Kind, SplitMix, Workloads};

/// Settings, from the environment.
#[derive(Debug)]
struct Config {
    bin: PathBuf,
    quick: bool,
    trials: usize,
    kinds: Vec<Kind>,
    effects: Vec<f64>,
    paired_phases: Vec<String>,
    /// `(baseline phase, check phase)`.
    stored_phases: Vec<(String, String)>,
    modes: Modes,
    ab_args: Vec<String>,
    check_args: Vec<String>,
    /// A second check of the same trial with other arguments (`ZOO_CHECK_ALT_ARGS`), reported
    /// as the phase with " alt" appended: two settings on the very same baseline and load.
    check_alt_args: Option<Vec<String>>,
    run_args: Vec<String>,
    out: PathBuf,
    settle: Duration,
    seed: u64,
    python: PathBuf,
}

/// Which parts run (`ZOO_MODES`).
#[derive(Debug)]
struct Modes {
    paired: bool,
    stored: bool,
    imports: bool,
}

fn workspace_root() -> PathBuf {
    // This package lives in `<root>/tests`.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_owned)
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn list(name: &str, default: &str) -> Vec<String> {
    var(name)
        .as_deref()
        .unwrap_or(default)
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Whitespace-separated arguments passed through to benchkeep (no shell quoting).
fn words(name: &str) -> Vec<String> {
    var(name).map_or_else(Vec::new, |v| {
        v.split_whitespace().map(str::to_owned).collect()
    })
}

impl Config {
    fn from_env() -> Result<Config, String> {
        let quick = var("ZOO_QUICK").is_some_and(|v| v != "0");
        let root = workspace_root();
        let bin = var("BENCHKEEP_BIN")
            .map_or_else(|| root.join("target/release/benchkeep"), PathBuf::from);
        if !bin.is_file() {
            return Err(format!(
                "no benchkeep binary at {}: run `cargo build --release -p benchkeep` in the workspace root first, or set BENCHKEEP_BIN",
                bin.display()
            ));
        }
        let trials = var("ZOO_TRIALS").map_or(Ok(if quick { 2 } else { 30 }), |v| {
            v.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(format!("ZOO_TRIALS={v}: expected a positive count"))
        })?;
        let settle = var("ZOO_SETTLE").map_or(Ok(2.0), |v| {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or(format!("ZOO_SETTLE={v}: expected seconds"))
        })?;
        let (paired_phases, stored_phases) = phases(quick)?;
        Ok(Config {
            bin,
            quick,
            trials,
            kinds: kinds(quick)?,
            effects: effects()?,
            paired_phases,
            stored_phases,
            modes: modes()?,
            ab_args: words("ZOO_AB_ARGS"),
            check_args: words("ZOO_CHECK_ARGS"),
            run_args: words("ZOO_RUN_ARGS"),
            check_alt_args: var("ZOO_CHECK_ALT_ARGS").map(|_| words("ZOO_CHECK_ALT_ARGS")),
            out: var("ZOO_OUT").map_or_else(|| root.join("target/zoo.md"), PathBuf::from),
            settle: Duration::from_secs_f64(settle),
            seed: var("ZOO_SEED").and_then(|s| s.parse().ok()).unwrap_or(1),
            python: python()?,
        })
    }
}

/// `ZOO_KINDS`: workload names, or `all`.
fn kinds(quick: bool) -> Result<Vec<Kind>, String> {
    let names = list("ZOO_KINDS", if quick { "awk,bimodal" } else { "all" });
    if names == ["all"] {
        return Ok(Kind::ALL.to_vec());
    }
    names
        .iter()
        .map(|k| {
            Kind::from_name(k).ok_or_else(|| {
                let known: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "ZOO_KINDS: unknown workload {k:?} (known: {})",
                    known.join(",")
                )
            })
        })
        .collect()
}

/// `ZOO_EFFECTS`: slowdowns in percent.
fn effects() -> Result<Vec<f64>, String> {
    list("ZOO_EFFECTS", "0,2,3,5,10,20")
        .iter()
        .map(|e| {
            e.parse::<f64>()
                .ok()
                .filter(|x| (0.0..1000.0).contains(x))
                .map(|x| x / 100.0)
                .ok_or(format!("ZOO_EFFECTS: {e:?} is not a percentage"))
        })
        .collect()
}

/// `ZOO_PHASES` (paired) and `ZOO_STORED_PHASES` (`BASELINE>CHECK` pairs), each checked.
type Phases = (Vec<String>, Vec<(String, String)>);

fn phases(quick: bool) -> Result<Phases, String> {
    let paired = list(
        "ZOO_PHASES",
        if quick { "none" } else { "none,cpu1,cpu2+io" },
    );
    let stored = list(
        "ZOO_STORED_PHASES",
        if quick {
            "none>cpu1"
        } else {
            "none>cpu1,cpu1>none"
        },
    )
    .iter()
    .map(|p| {
        p.split_once('>')
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .ok_or(format!("ZOO_STORED_PHASES: {p:?} is not BASELINE>CHECK"))
    })
    .collect::<Result<Vec<_>, _>>()?;
    for phase in paired.iter().chain(stored.iter().flat_map(|(a, b)| [a, b])) {
        Phase::parse(phase)?;
    }
    Ok((paired, stored))
}

/// `ZOO_MODES`: any of paired, stored, import.
fn modes() -> Result<Modes, String> {
    let modes = list("ZOO_MODES", "paired,stored,import");
    if let Some(bad) = modes
        .iter()
        .find(|m| !["paired", "stored", "import"].contains(&m.as_str()))
    {
        return Err(format!(
            "ZOO_MODES: unknown mode {bad:?} (paired, stored, import)"
        ));
    }
    let has = |mode: &str| modes.iter().any(|m| m == mode);
    Ok(Modes {
        paired: has("paired"),
        stored: has("stored"),
        imports: has("import"),
    })
}

/// The Python interpreter for the interpreted workloads: `ZOO_PYTHON`, else Debian's
/// `/usr/bin/python3`, else the real executable behind `python3` on PATH. A version-manager shim
/// (pyenv) would add tens of milliseconds of shell start-up that do not scale with the work.
fn python() -> Result<PathBuf, String> {
    if let Some(p) = var("ZOO_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let system = Path::new("/usr/bin/python3");
    if system.is_file() {
        return Ok(system.to_owned());
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .map_err(|e| format!("python3 is needed by the python and bimodal workloads: {e}"))?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Child-process roles of this binary: the memory workload and the load generator.
    match args.first().map(String::as_str) {
        Some("--zoo-memory") => {
            let steps = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            workloads::memory_walk(steps);
            return;
        }
        Some("--zoo-load") => {
            load::run_load(&args[1..]);
            return;
        }
        _ => {}
    }
    if let Err(error) = run() {
        eprintln!("zoo: error: {error}");
        std::process::exit(2);
    }
}

/// Everything one run collects.
struct Results {
    started_at: jiff::Timestamp,
    trials: Vec<Trial>,
    imports: Vec<harness_outputs::ImportRow>,
    warnings: Vec<String>,
}

fn run() -> Result<(), String> {
    stats::self_check();
    let config = Config::from_env()?;
    for kind in &config.kinds {
        Workloads::check_tools(*kind)?;
    }
    let started = Instant::now();
    let scratch = tempfile::Builder::new()
        .prefix("benchkeep-zoo-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let dir = scratch.path();
    let bk = Benchkeep::new(config.bin.clone(), dir);
    let version = bk.version()?;
    eprintln!(
        "zoo: {version} at {}; scratch {}",
        config.bin.display(),
        dir.display()
    );

    let workloads = Workloads::new(dir, config.python.clone()).map_err(|e| e.to_string())?;
    let commands = prepare(&config, &workloads)?;
    let mut results = Results {
        started_at: jiff::Timestamp::now(),
        trials: Vec::new(),
        imports: Vec::new(),
        warnings: Vec::new(),
    };
    let write =
        |results: &Results, done: bool| write_report(&config, &version, started, results, done);
    if config.modes.imports {
        let fixtures = workspace_root().join("crates/import/tests/fixtures/import");
        let imports_dir = dir.join("imports");
        std::fs::create_dir_all(&imports_dir).map_err(|e| e.to_string())?;
        results.imports = harness_outputs::run(&bk, &fixtures, &imports_dir)?;
        eprintln!(
            "zoo: harness outputs done ({} cases)",
            results.imports.len()
        );
    }
    let mut load = Load::new(dir, config.settle);
    let mut rng = SplitMix(config.seed);
    if config.modes.paired {
        for phase in &config.paired_phases {
            load.set(&Phase::parse(phase)?)
                .map_err(|e| format!("load generator: {e}"))?;
            paired_phase(
                &config,
                &bk,
                &commands,
                phase,
                &mut rng,
                &mut results,
                started,
            );
            write(&results, false)?;
        }
    }
    if config.modes.stored {
        for (base_phase, check_phase) in &config.stored_phases {
            let phases = (Phase::parse(base_phase)?, Phase::parse(check_phase)?);
            stored_phase(
                &config,
                &bk,
                &commands,
                &phases,
                &mut load,
                &mut rng,
                &mut results,
                started,
            )?;
            write(&results, false)?;
        }
    }
    drop(load);
    write(&results, true)?;
    for warning in &results.warnings {
        eprintln!("zoo: warning: {warning}");
    }
    eprintln!("zoo: finished in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Each workload's commands: the unslowed one (`base`) and one per effect (`head`).
struct Commands {
    base: Vec<String>,
    head: Vec<Vec<String>>,
}

/// Every workload's commands, inputs generated, and each unslowed command run once, so a
/// missing tool or a broken command stops the run before hours of measuring, and the log shows
/// how long each workload takes.
fn prepare(config: &Config, workloads: &Workloads) -> Result<Commands, String> {
    let started = Instant::now();
    let generate = |kind: &Kind, effect: f64| {
        workloads
            .command(*kind, effect)
            .map_err(|e| format!("generating inputs of {}: {e}", kind.name()))
    };
    let commands = Commands {
        base: config
            .kinds
            .iter()
            .map(|kind| generate(kind, 0.0))
            .collect::<Result<_, _>>()?,
        head: config
            .kinds
            .iter()
            .map(|kind| config.effects.iter().map(|e| generate(kind, *e)).collect())
            .collect::<Result<_, _>>()?,
    };
    eprintln!(
        "zoo: inputs generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for (kind, base) in config.kinds.iter().zip(&commands.base) {
        let probe = Instant::now();
        let out = std::process::Command::new("sh")
            .args(["-c", base])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "workload {} failed: {base}\n{}",
                kind.name(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        eprintln!(
            "zoo: {:8} {:6.1} ms once  {}",
            kind.name(),
            probe.elapsed().as_secs_f64() * 1e3,
            base.lines().next().unwrap_or_default()
        );
    }
    Ok(commands)
}

/// Paired trials under one load phase: each trial round measures every workload and effect once,
/// in a fresh random order, so a drift of the machine spreads over all cells alike.
fn paired_phase(
    config: &Config,
    bk: &Benchkeep,
    commands: &Commands,
    phase: &str,
    rng: &mut SplitMix,
    results: &mut Results,
    started: Instant,
) {
    for index in 0..config.trials {
        let mut order: Vec<(usize, usize)> = (0..config.kinds.len())
            .flat_map(|k| (0..config.effects.len()).map(move |e| (k, e)))
            .collect();
        rng.shuffle(&mut order);
        for (k, e) in order {
            let load = trials::load_now();
            let measured =
                trials::paired(bk, &commands.base[k], &commands.head[k][e], &config.ab_args);
            let trial = Trial {
                mode: Mode::Paired,
                kind: config.kinds[k],
                phase: phase.to_owned(),
                effect: config.effects[e],
                index,
                load,
                baseline_load: None,
                measured,
            };
            progress(&trial, config.trials, started);
            results.trials.push(trial);
        }
    }
}

/// Stored trial groups for one pair of phases: per trial and workload, a fresh store whose
/// baseline is recorded under the first phase, then one check per effect under the second.
#[allow(clippy::too_many_arguments)] // the run's shared state, passed rather than made global
fn stored_phase(
    config: &Config,
    bk: &Benchkeep,
    commands: &Commands,
    (base_phase, check_phase): &(Phase, Phase),
    load: &mut Load,
    rng: &mut SplitMix,
    results: &mut Results,
    started: Instant,
) -> Result<(), String> {
    let label = format!("{base_phase}>{check_phase}");
    for index in 0..config.trials {
        let mut kinds: Vec<usize> = (0..config.kinds.len()).collect();
        rng.shuffle(&mut kinds);
        for k in kinds {
            let kind = config.kinds[k];
            let group = tempfile::Builder::new()
                .prefix("stored-")
                .tempdir_in(bk.cwd())
                .map_err(|e| e.to_string())?;
            load.set(base_phase)
                .map_err(|e| format!("load generator: {e}"))?;
            let baseline_load = trials::load_now();
            let baseline = StoredBaseline::record(
                bk,
                group.path(),
                kind.name(),
                &commands.base[k],
                &config.run_args,
            );
            load.set(check_phase)
                .map_err(|e| format!("load generator: {e}"))?;
            let mut effects: Vec<usize> = (0..config.effects.len()).collect();
            rng.shuffle(&mut effects);
            for e in effects {
                let variants = std::iter::once((label.clone(), &config.check_args)).chain(
                    config
                        .check_alt_args
                        .as_ref()
                        .map(|alt| (format!("{label} alt"), alt)),
                );
                for (phase, args) in variants {
                    let trial_load = trials::load_now();
                    let measured = match &baseline {
                        Ok(b) => b.check(&commands.head[k][e], args, &mut results.warnings),
                        Err(error) => Measured::error(error.clone()),
                    };
                    let trial = Trial {
                        mode: Mode::Stored,
                        kind,
                        phase,
                        effect: config.effects[e],
                        index,
                        load: trial_load,
                        baseline_load,
                        measured,
                    };
                    progress(&trial, config.trials, started);
                    results.trials.push(trial);
                }
            }
        }
    }
    Ok(())
}

fn progress(trial: &Trial, trials: usize, started: Instant) {
    let m = &trial.measured;
    eprintln!(
        "[{:6.0} s] {} {:10} {}/{} {:8} +{:>4}%: {:12} Δ {:>7} load {}{}",
        started.elapsed().as_secs_f64(),
        trial.mode.name(),
        trial.phase,
        trial.index + 1,
        trials,
        trial.kind.name(),
        report::pct(trial.effect),
        m.outcome.name(),
        m.change
            .map_or_else(|| "-".into(), |c| format!("{:+.1}%", 100.0 * c)),
        trial.load.map_or_else(|| "-".into(), |l| format!("{l:.2}")),
        if m.outcome == trials::Outcome::Error {
            format!("  {}", m.note)
        } else {
            String::new()
        },
    );
}

/// Prints the tables (at the end) and writes them, and every trial as CSV, next to `ZOO_OUT`
/// (after every phase too, so a run stopped after hours keeps what it measured).
/// The phase labels the report lists, paired and stored (with the " alt" variants).
fn phase_labels(config: &Config) -> (Vec<String>, Vec<String>) {
    let paired_phases: Vec<String> = if config.modes.paired {
        config.paired_phases.clone()
    } else {
        Vec::new()
    };
    let stored_phases: Vec<String> = if config.modes.stored {
        config
            .stored_phases
            .iter()
            .flat_map(|(a, b)| {
                let label = format!("{a}>{b}");
                let alt = config
                    .check_alt_args
                    .as_ref()
                    .map(|_| format!("{label} alt"));
                std::iter::once(label).chain(alt)
            })
            .collect()
    } else {
        Vec::new()
    };
    (paired_phases, stored_phases)
}

/// The CPU model and kernel release, for the report's header.
fn machine() -> (String, String) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    (cpu, kernel)
}

fn write_report(
    config: &Config,
    version: &str,
    started: Instant,
    results: &Results,
    done: bool,
) -> Result<(), String> {
    let (paired_phases, stored_phases) = phase_labels(config);
    let (cpu, kernel) = machine();
    let title = match (config.quick, done) {
        (true, _) => format!(
            "Smoke run (ZOO_QUICK=1): {} trials per cell, not results",
            config.trials
        ),
        (false, true) => format!("Zoo run: {} trials per cell", config.trials),
        (false, false) => format!(
            "Zoo run in progress: {} trials per cell planned",
            config.trials
        ),
    };
    let header = vec![
        format!(
            "{} on {} × {cpu}, Linux {}; started {}",
            version,
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            kernel.trim(),
            results.started_at.strftime("%Y-%m-%d %H:%M UTC"),
        ),
        format!(
            "{:.0} s {}; {} trials measured; paired phases {:?}, stored phases {:?}; ZOO_AB_ARGS {:?}, ZOO_CHECK_ARGS {:?}, ZOO_RUN_ARGS {:?}, ZOO_CHECK_ALT_ARGS {:?}, ZOO_METRIC {:?}",
            started.elapsed().as_secs_f64(),
            if done { "in total" } else { "so far" },
            results.trials.len(),
            paired_phases,
            stored_phases,
            config.ab_args.join(" "),
            config.check_args.join(" "),
            config.run_args.join(" "),
            config
                .check_alt_args
                .as_ref()
                .map_or_else(|| "-".to_owned(), |a| a.join(" ")),
            cli::judged_metric(),
        ),
        format!(
            "{} warnings (a verdict whose samples are not those of its run file): {}",
            results.warnings.len(),
            if results.warnings.is_empty() {
                "none".into()
            } else {
                // The first few say what is wrong; the log has every one.
                results
                    .warnings
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        ),
    ];
    let layout = report::Layout {
        title,
        header,
        kinds: &config.kinds,
        effects: &config.effects,
        paired_phases: &paired_phases,
        stored_phases: &stored_phases,
    };
    let markdown = report::markdown(&layout, &results.trials, &results.imports);
    if done {
        println!("{markdown}");
    }
    if let Some(parent) = config.out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::write(&config.out, &markdown)
        .and_then(|()| {
            std::fs::write(
                config.out.with_extension("csv"),
                report::csv(&results.trials),
            )
        })
        .map_err(|e| format!("cannot write {}: {e}", config.out.display()))?;
    if done {
        eprintln!(
            "zoo: wrote {} and {}",
            config.out.display(),
            config.out.with_extension("csv").display()
        );
    }
    Ok(())
}
