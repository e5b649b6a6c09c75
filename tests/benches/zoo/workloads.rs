//! The workload zoo: real commands of the kinds users benchmark, each with an amount of work that
//! grows by an exact factor `1 + effect`.
//!
//! Every command is a shell line (benchkeep runs `ab --base/--head` lines and `run --shell` lines
//! with `sh -c`), so the same string is measured in every mode. Inputs are generated from a fixed
//! seed into the harness's temporary directory; a slowed variant's input is the unslowed one with
//! more of the same stream appended, so the extra work is more of the same work.
//!
//! The scaling is exact for the work the command does, not for its wall time: process start-up
//! (about 1 ms for a C tool, 12 ms for Python) and fixed set-up (the memory walk fills its array
//! first) do not grow, so the realised slowdown is smaller than the effect. The harness measures
//! and reports the realised effect (ratio of medians on the quietest phase) next to the nominal one.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Python loop steps of the interpreted-loop workload (about 50 ms with `CPython` 3.11).
const PYTHON_STEPS: f64 = 700_000.0;
/// Input bytes per workload, each for about 50 ms on the 2-core EPYC CI machine.
const AWK_BYTES: f64 = 8e6;
const GZIP_BYTES: f64 = 1.2e6;
const SHA256_BYTES: f64 = 20e6;
const XZ_BYTES: f64 = 2e6;
/// Lines sorted by the sort workload (about 6 MB).
const SORT_LINES: f64 = 160_000.0;
/// Fast-path loop steps of the bimodal workload; one run in four takes the slow path, 4x as long.
const BIMODAL_STEPS: f64 = 250_000.0;
/// Dependent random reads of the memory workload, over `MEMORY_WORDS` 8-byte words (64 MiB,
/// twice this machine's 32 MiB L3 cache, so nearly every read misses).
const MEMORY_STEPS: f64 = 200_000.0;
const MEMORY_WORDS: usize = 1 << 23;

/// A kind of workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Python,
    Awk,
    Gzip,
    Sort,
    Sha256,
    Bimodal,
    Memory,
    XzThreads,
}

impl Kind {
    pub(crate) const ALL: [Kind; 8] = [
        Kind::Python,
        Kind::Awk,
        Kind::Gzip,
        Kind::Sort,
        Kind::Sha256,
        Kind::Bimodal,
        Kind::Memory,
        Kind::XzThreads,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Python => "python",
            Kind::Awk => "awk",
            Kind::Gzip => "gzip",
            Kind::Sort => "sort",
            Kind::Sha256 => "sha256",
            Kind::Bimodal => "bimodal",
            Kind::Memory => "memory",
            Kind::XzThreads => "xz-mt",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// What the command does and what grows with the effect: the table's legend.
    pub(crate) fn description(self) -> &'static str {
        match self {
            Kind::Python => "CPython `for` loop of 700k steps; steps × (1+e)",
            Kind::Awk => "awk sums a field and counts keys of an 8 MB text file; bytes × (1+e)",
            Kind::Gzip => "`gzip -6` of a 1.2 MB text file; bytes × (1+e)",
            Kind::Sort => {
                "`LC_ALL=C sort --parallel=1` of 160k lines; lines n' with n' log n' = (1+e) n log n"
            }
            Kind::Sha256 => "`sha256sum` of a 20 MB file; bytes × (1+e)",
            Kind::Bimodal => {
                "CPython loop, 250k steps, or 1M steps in a random quarter of runs; both × (1+e)"
            }
            Kind::Memory => {
                "200k dependent random reads over 64 MiB (a small Rust program: this bench binary); reads × (1+e); filling the array (about 40 ms) is fixed"
            }
            Kind::XzThreads => {
                "`xz -T2 -1` in 256 KiB blocks of a 2 MB file (2 threads); bytes × (1+e)"
            }
        }
    }

    /// Programs the command needs, checked before any measuring starts.
    fn tools(self) -> &'static [&'static str] {
        match self {
            Kind::Python | Kind::Bimodal | Kind::Memory => &[],
            Kind::Awk => &["awk"],
            Kind::Gzip => &["gzip"],
            Kind::Sort => &["sort"],
            Kind::Sha256 => &["sha256sum"],
            Kind::XzThreads => &["xz"],
        }
    }
}

/// Builds workload commands and the inputs they read.
#[derive(Debug)]
pub(crate) struct Workloads {
    dir: PathBuf,
    python: PathBuf,
    self_exe: PathBuf,
}

impl Workloads {
    /// `dir` holds the generated inputs; `python` runs the interpreted workloads.
    pub(crate) fn new(dir: &Path, python: PathBuf) -> io::Result<Workloads> {
        Ok(Workloads {
            dir: dir.to_owned(),
            python,
            self_exe: std::env::current_exe()?,
        })
    }

    /// Whether every program `kind` needs is on `PATH`; the error names what is missing.
    pub(crate) fn check_tools(kind: Kind) -> Result<(), String> {
        for tool in kind.tools() {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success());
            if !found {
                return Err(format!(
                    "workload {} needs `{tool}`, which is not on PATH (apt-get install it, or leave the kind out of ZOO_KINDS)",
                    kind.name()
                ));
            }
        }
        Ok(())
    }

    /// The shell line of `kind` with its work scaled by `1 + effect`, generating its input on
    /// first use.
    pub(crate) fn command(&self, kind: Kind, effect: f64) -> io::Result<String> {
        let factor = 1.0 + effect;
        let python = quote(&self.python.to_string_lossy());
        Ok(match kind {
            Kind::Python => format!(
                "{python} -c 's = 0\nfor i in range({}): s += i * i'",
                count(PYTHON_STEPS * factor)
            ),
            Kind::Bimodal => format!(
                // os.urandom: a fresh draw per run, unlike a time-seeded generator.
                "{python} -c 'import os\nn = {} * (4 if os.urandom(1)[0] < 64 else 1)\ns = 0\nfor i in range(n): s += i ^ 3'",
                count(BIMODAL_STEPS * factor)
            ),
            Kind::Memory => format!(
                "{} --zoo-memory {}",
                quote(&self.self_exe.to_string_lossy()),
                count(MEMORY_STEPS * factor)
            ),
            Kind::Awk => format!(
                "LC_ALL=C awk '{{ s += $2; c[$3]++ }} END {{ print s, length(c) }}' {} > /dev/null",
                self.input_bytes("awk", count(AWK_BYTES * factor))?
            ),
            Kind::Gzip => format!(
                "gzip -c -6 {} > /dev/null",
                self.input_bytes("gzip", count(GZIP_BYTES * factor))?
            ),
            Kind::Sha256 => format!(
                "sha256sum {} > /dev/null",
                self.input_bytes("sha256", count(SHA256_BYTES * factor))?
            ),
            Kind::XzThreads => format!(
                "xz -T2 -1 --block-size=262144 -c {} > /dev/null",
                self.input_bytes("xz", count(XZ_BYTES * factor))?
            ),
            Kind::Sort => format!(
                // -S keeps the whole input in memory: no temporary files, whose cost would not
                // scale like the sort.
                "LC_ALL=C sort --parallel=1 -S 256M {} > /dev/null",
                self.input_lines("sort", sort_lines(SORT_LINES, factor))?
            ),
        })
    }

    /// A file of exactly `bytes` bytes of the text stream (the last line may be cut short).
    fn input_bytes(&self, name: &str, bytes: u64) -> io::Result<String> {
        let path = self.dir.join(format!("{name}-{bytes}b.txt"));
        if !path.exists() {
            write_stream(&path, |written, _| written >= bytes, Some(bytes))?;
        }
        Ok(quote(&path.to_string_lossy()))
    }

    /// A file of exactly `lines` lines of the text stream.
    fn input_lines(&self, name: &str, lines: u64) -> io::Result<String> {
        let path = self.dir.join(format!("{name}-{lines}l.txt"));
        if !path.exists() {
            write_stream(&path, |_, count| count >= lines, None)?;
        }
        Ok(quote(&path.to_string_lossy()))
    }
}

/// Writes the fixed text stream until `done(bytes, lines)`, cut to `cut` bytes if given. Every
/// file starts with the same lines, so a bigger input is a smaller one plus more of the same.
fn write_stream(path: &Path, done: impl Fn(u64, u64) -> bool, cut: Option<u64>) -> io::Result<()> {
    const WORDS: [&str; 12] = [
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
        "lambda", "mu",
    ];
    let partial = path.with_extension("partial");
    let mut out = BufWriter::new(File::create(&partial)?);
    let mut rng = SplitMix(0x5eed_2001);
    let (mut bytes, mut lines) = (0u64, 0u64);
    let mut line = String::new();
    while !done(bytes, lines) {
        line.clear();
        let words: Vec<&str> = (0..4).map(|_| WORDS[rng.below(12)]).collect();
        let _ = writeln!(
            line,
            "{:09} {} {}",
            rng.below(1_000_000_000),
            rng.below(1000),
            words.join(" ")
        );
        let keep = cut.map_or(line.len(), |c| {
            usize::try_from(c - bytes).map_or(line.len(), |left| left.min(line.len()))
        });
        out.write_all(&line.as_bytes()[..keep])?;
        bytes += keep as u64;
        lines += 1;
    }
    out.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .sync_all()?;
    // Renamed into place only when complete: an interrupted run never leaves a short input that
    // a later run in the same directory would reuse.
    std::fs::rename(partial, path)
}

/// `n'` with `n' log n' = factor · n log n`: the comparisons of a sort grow like n log n, so
/// this many lines is `factor` times the work (fixed-point iteration converges in a few steps).
fn sort_lines(n: f64, factor: f64) -> u64 {
    let target = factor * n * n.ln();
    let mut m = n * factor;
    for _ in 0..20 {
        m = target / m.ln();
    }
    count(m)
}

/// A rounded non-negative count.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn count(x: f64) -> u64 {
    // Work sizes are positive and far below 2^52.
    x.round() as u64
}

/// Quotes a word for `sh -c`.
pub(crate) fn quote(word: &str) -> String {
    if word
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,".contains(&b))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// splitmix64: a fixed, dependency-free stream for inputs and trial order.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (the modulo bias is far below anything measured here).
    #[allow(clippy::cast_possible_truncation)]
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// The memory workload, run in a child process of its own (`--zoo-memory STEPS`): fill 64 MiB,
/// then `steps` reads, each at an address that depends on the previous read, so the CPU cannot
/// overlap them and every step waits for memory.
pub(crate) fn memory_walk(steps: u64) -> u64 {
    let mut mix = SplitMix(7);
    let words: Vec<u64> = (0..MEMORY_WORDS).map(|_| mix.next_u64()).collect();
    let mask = MEMORY_WORDS as u64 - 1;
    let (mut at, mut sum) = (0u64, 0u64);
    for step in 0..steps {
        let value = words[usize::try_from(at).unwrap_or_default()];
        sum = sum.wrapping_add(value);
        at = (value ^ step) & mask;
    }
    std::hint::black_box(sum)
}
