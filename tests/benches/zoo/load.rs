//! Background load whose intensity the harness switches between phases: busy-loop processes
//! (other jobs on a shared CI runner) and an I/O-heavy writer (a build or a test suite writing
//! files). The load processes are this bench binary re-run with `--zoo-load`; they exit by
//! themselves when the harness is gone, so an interrupted run leaves nothing spinning.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A load phase: how many busy loops and whether an I/O writer runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Phase {
    pub(crate) busy: usize,
    pub(crate) io: bool,
}

impl Phase {
    pub(crate) const NONE: Phase = Phase { busy: 0, io: false };

    /// `none`, `cpuN`, `io` or `cpuN+io`.
    pub(crate) fn parse(text: &str) -> Result<Phase, String> {
        let mut phase = Phase::NONE;
        if text == "none" {
            return Ok(phase);
        }
        for part in text.split('+') {
            if part == "io" && !phase.io {
                phase.io = true;
            } else if let Some(n) = part.strip_prefix("cpu").and_then(|n| n.parse().ok()) {
                phase.busy = n;
            } else {
                return Err(format!(
                    "unknown load phase {text:?}: expected none, cpuN, io or cpuN+io"
                ));
            }
        }
        Ok(phase)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.busy, self.io) {
            (0, false) => f.write_str("none"),
            (0, true) => f.write_str("io"),
            (n, false) => write!(f, "cpu{n}"),
            (n, true) => write!(f, "cpu{n}+io"),
        }
    }
}

/// The running load generator.
#[derive(Debug)]
pub(crate) struct Load {
    dir: PathBuf,
    current: Phase,
    children: Vec<Child>,
    settle: Duration,
}

impl Load {
    /// `dir` receives the I/O writer's scratch files; after each switch the harness waits
    /// `settle` so the new load is running at full intensity before anything is measured.
    pub(crate) fn new(dir: &Path, settle: Duration) -> Load {
        Load {
            dir: dir.to_owned(),
            current: Phase::NONE,
            children: Vec::new(),
            settle,
        }
    }

    /// Switches to `phase` (no-op when it is already running).
    pub(crate) fn set(&mut self, phase: &Phase) -> std::io::Result<()> {
        if *phase == self.current {
            return Ok(());
        }
        self.stop();
        let exe = std::env::current_exe()?;
        let parent = std::process::id().to_string();
        let mut spawn = |args: &[&str]| -> std::io::Result<()> {
            let child = Command::new(&exe)
                .arg("--zoo-load")
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()?;
            self.children.push(child);
            Ok(())
        };
        for _ in 0..phase.busy {
            spawn(&["cpu", &parent])?;
        }
        if phase.io {
            spawn(&["io", &parent, &self.dir.to_string_lossy()])?;
        }
        self.current = phase.clone();
        std::thread::sleep(self.settle);
        Ok(())
    }

    /// Ends the load processes this harness started, by their own handles.
    fn stop(&mut self) {
        for mut child in self.children.drain(..) {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.current = Phase::NONE;
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The 1-minute load average, from `/proc/loadavg` (`None` off Linux).
pub(crate) fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Body of a load process: `cpu PARENT` spins, `io PARENT DIR` writes and syncs 32 MiB files.
/// Both return when their parent (the harness) is gone.
pub(crate) fn run_load(args: &[String]) {
    let parent: u32 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    let orphaned = || std::os::unix::process::parent_id() != parent;
    match args.first().map(String::as_str) {
        Some("cpu") => {
            let mut x = 1u64;
            while !orphaned() {
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(50) {
                    for _ in 0..10_000 {
                        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005) ^ 1);
                    }
                }
            }
        }
        Some("io") => {
            let dir = PathBuf::from(args.get(2).map_or(".", String::as_str));
            let path = dir.join(format!("load-io-{}.tmp", std::process::id()));
            let chunk = vec![0x5a_u8; 1 << 20];
            while !orphaned() {
                let written = std::fs::File::create(&path).and_then(|mut file| {
                    for _ in 0..32 {
                        file.write_all(&chunk)?;
                    }
                    file.sync_all()
                });
                if written.is_err() {
                    // A full disk must not turn into a hot loop; the phase is then lighter
                    // than named, which the load average at each trial shows.
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            let _ = std::fs::remove_file(path);
        }
        _ => eprintln!("--zoo-load: expected cpu PARENT or io PARENT DIR"),
    }
}
