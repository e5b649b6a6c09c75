//! The machine-speed probe: a fixed amount of CPU and memory work, timed beside the benchmarks of
//! a job, that says how fast this machine ran while the job measured.
//!
//! Stored baselines compare this job with jobs that ran at other times, perhaps on a quieter
//! machine. When a shared CI runner is busy, every command runs slower and a history-aware
//! comparison still sees a "regression" the code did not cause. The probe measures the machine,
//! not the code: the same work every time (`VERSION` names it; a change of the work bumps it), so
//! a job whose probe ran 20% slower than the baseline jobs' probes ran on a 20% slower machine.
//! The comparison uses that to widen the interval by the shift it cannot explain
//! (`benchkeep_core::history`).
//!
//! The work is single-threaded: an integer mixing loop (the core's speed, which another busy
//! process on the same core halves) and dependent loads over an 8 MiB buffer (the shared cache
//! and memory, which neighbours contend for). About 5 ms on a current x86-64 core.
//!
//! ```
//! let samples = benchkeep_runner::probe::measure(3);
//! assert_eq!(samples.len(), 3);
//! assert!(samples.iter().all(|&ns| ns > 0.0));
//! ```

use std::hint::black_box;
use std::time::Instant;

use benchkeep_core::model::SpeedProbe;

/// The version of the probe's work: probes of different versions are never compared.
pub const VERSION: u32 = 1;

/// Steps of the mixing loop.
const MIX_STEPS: u64 = 2_000_000;
/// The buffer walked by dependent loads: bigger than most L2 caches, within common L3s.
const BUFFER_WORDS: usize = 1 << 20; // 8 MiB of u64
/// Dependent loads over the buffer.
const LOADS: usize = 200_000;

/// Times the probe's work `repeats` times, in nanoseconds each.
#[must_use]
pub fn measure(repeats: usize) -> Vec<f64> {
    // A fixed pseudo-random cycle through the buffer (each word holds the next index), built
    // once per call: the walk's loads depend on each other, so the memory system's latency,
    // not its bandwidth, sets their pace.
    let mut buffer = vec![0u64; BUFFER_WORDS];
    let mut index = 0usize;
    for step in 0..BUFFER_WORDS {
        // An odd stride in a power-of-two ring visits every slot once.
        let next = (index + 7_919 * 2 + 1) & (BUFFER_WORDS - 1);
        buffer[index] = next as u64;
        index = if step + 1 == BUFFER_WORDS { 0 } else { next };
    }
    (0..repeats)
        .map(|_| {
            let started = Instant::now();
            black_box(work(black_box(&buffer)));
            started.elapsed().as_nanos() as f64
        })
        .collect()
}

/// The probe of one job: `repeats` timings of the work, tagged with its version.
#[must_use]
pub fn probe(repeats: usize) -> SpeedProbe {
    SpeedProbe {
        version: VERSION,
        samples: measure(repeats),
    }
}

/// Appends `repeats` more timings to `probe` (a job probes before and after its benchmarks).
pub fn extend(probe: &mut SpeedProbe, repeats: usize) {
    probe.samples.extend(measure(repeats));
}

fn work(buffer: &[u64]) -> u64 {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..MIX_STEPS {
        x = (x ^ (x >> 29))
            .wrapping_mul(0xbf58_476d_1ce4_e5b9)
            .wrapping_add(black_box(i));
    }
    // Only the low bits pick the start: the mask keeps the index inside the buffer.
    let mask = buffer.len() as u64 - 1;
    let mut at = usize::try_from(x & mask).unwrap_or(0);
    for _ in 0..LOADS {
        at = usize::try_from(buffer[at] & mask).unwrap_or(0);
    }
    x ^ u64::try_from(at).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_times_measurable_work() {
        let samples = measure(9);
        assert_eq!(samples.len(), 9);
        let mut sorted = samples.clone();
        sorted.sort_by(f64::total_cmp);
        // How closely the repetitions agree depends on how busy the machine is, which is what
        // the probe measures: that is the detection benchmark's to report, not a test's to
        // assume. What holds anywhere: the work takes measurable, finite time.
        assert!(
            sorted[0] > 1e5,
            "the work takes measurable time: {sorted:?}"
        );
        assert!(sorted.iter().all(|s| s.is_finite()), "{sorted:?}");
    }
}
