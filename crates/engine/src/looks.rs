//! Adaptive rounds: the loop that measures inconclusive benchmarks again, look after look, for
//! `ab`, `check --pr` and `check` alike (the statistics of the design are `core::sequential`).

use std::time::{Duration, Instant};

use crate::Error;
use benchkeep_core::compare::{CompareConfig, Comparison};
use benchkeep_core::sequential::{Design, Sequential, Stop};

/// How much longer than the first batch adaptive rounds may take, by default: in looks and in
/// time, so a comparison that stays inconclusive costs at most about four times the plain one.
pub(crate) const ADAPTIVE_FACTOR: u32 = 4;

/// The budget of adaptive rounds: the looks of the sequential design and the time allowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Adaptive {
    pub(crate) design: Design,
    /// Measuring may not go on past this; `None`: four times the first batch's time.
    pub(crate) max_time: Option<Duration>,
}

/// Compares the measured `data`, and while some benchmarks stay inconclusive for want of data,
/// measures those again (`more(data, names, look)`) and compares again, spending `alpha` across
/// the looks. `started` is when the first batch began, `first_batch` how long measuring all
/// `benchmarks` took.
pub(crate) fn decide<D>(
    adaptive: &Adaptive,
    config: &mut CompareConfig,
    (started, first_batch, benchmarks): (Instant, Duration, usize),
    data: &mut D,
    compare: impl Fn(&D, &CompareConfig) -> Comparison,
    mut more: impl FnMut(&mut D, &[String], u32) -> Result<(), Error>,
) -> Result<Comparison, Error> {
    let design = adaptive.design;
    let budget = adaptive.max_time.unwrap_or(first_batch * ADAPTIVE_FACTOR);
    let mut sequential = Sequential::new(design);
    let mut stop = Stop::Decided;
    for look in 1..=design.looks() {
        config.spend = design.spend(look);
        let open = sequential.record(look, compare(data, config));
        if open.is_empty() {
            break;
        }
        if look == design.looks() {
            stop = Stop::RoundLimit;
            break;
        }
        // The next batch measures only the open benchmarks: estimate it from the first.
        let share = open.len() as f64 / benchmarks.max(1) as f64;
        if started.elapsed() + first_batch.mul_f64(share) > budget {
            stop = Stop::TimeBudget;
            break;
        }
        more(data, &open, look + 1)?;
    }
    Ok(sequential
        .finish(stop)
        .unwrap_or_else(|| compare(data, config)))
}
