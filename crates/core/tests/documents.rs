//! The document readers (runs, baselines) on arbitrary bytes and on mutations of real
//! documents: no panic, every truncation refused (a cut document never reads as a shorter
//! one), flipped bytes either refused or read as a document that encodes again.

use benchkeep_core::baseline::Baseline;
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::{Benchmark, Fingerprint, GitInfo, Run, RunId};
use benchkeep_core::store::{decode_baseline, decode_run, encode_baseline, encode_run};
use proptest::prelude::*;

fn run(index: i64) -> Run {
    let at = jiff::Timestamp::from_second(1_800_000_000 + index * 60).unwrap();
    let mut run = Run::new(
        RunId::new(at, 42),
        at,
        BaselineKey::new("main", "linux-x86_64").unwrap(),
        Fingerprint::default(),
    );
    run.git = Some(GitInfo {
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        branch: Some("main".into()),
        dirty: Some(false),
    });
    for (name, ns) in [("parse", 1.0e6), ("render \"x\" ✓", 2.5e5)] {
        let samples = (0..12).map(|i| ns * (1.0 + f64::from(i % 4) * 0.01));
        run.benchmarks
            .push(Benchmark::wall_time(name, samples.collect()));
    }
    run
}

fn baseline() -> Baseline {
    let runs = [run(1), run(2), run(3)];
    Baseline::from_runs(runs[0].key.clone(), &runs, runs[2].timestamp).unwrap()
}

#[test]
fn every_truncation_of_a_run_or_a_baseline_is_refused() {
    let documents = [
        ("run", encode_run(&run(1))),
        ("baseline", encode_baseline(&baseline())),
    ];
    let mut cases = 0;
    for (what, bytes) in documents {
        let end = bytes
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .unwrap()
            + 1;
        for cut in 0..end {
            cases += 1;
            let read = match what {
                "run" => decode_run(&bytes[..cut], what).map(drop),
                _ => decode_baseline(&bytes[..cut], what).map(drop),
            };
            assert!(
                read.is_err(),
                "{what} cut at byte {cut} of {} was read",
                bytes.len()
            );
        }
    }
    assert!(cases > 2_000, "{cases} cases");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode_run(&bytes, "fuzz");
        let _ = decode_baseline(&bytes, "fuzz");
    }

    /// A real document with bytes flipped: refused, or read as a document that encodes again
    /// and reads back equal (nothing half-read).
    #[test]
    fn flipped_bytes_are_refused_or_read_whole(
        baseline_document in any::<bool>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = if baseline_document { encode_baseline(&baseline()) } else { encode_run(&run(1)) };
        for (index, byte) in flips {
            let i = index.index(bytes.len());
            bytes[i] = byte;
        }
        if baseline_document {
            if let Ok(read) = decode_baseline(&bytes, "flipped") {
                let again = decode_baseline(&encode_baseline(&read), "again").unwrap();
                prop_assert_eq!(again.sources.len(), read.sources.len());
            }
        } else if let Ok(read) = decode_run(&bytes, "flipped") {
            let again = decode_run(&encode_run(&read), "again").unwrap();
            prop_assert_eq!(again.benchmarks.len(), read.benchmarks.len());
        }
    }
}
