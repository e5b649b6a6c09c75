//! The shared store conformance suite against the S3 store: on `object_store`'s in-memory backend
//! always, and on a real S3-compatible server when `BENCHKEEP_S3_TEST_ENDPOINT` names one (the
//! test command starts a local server and sets it; with `BENCHKEEP_REQUIRE_S3=1` a missing or
//! unreachable server fails the test instead of skipping it).

use std::sync::Arc;

use async_trait::async_trait;
use benchkeep_core::conformance::{self, Tamper};
use benchkeep_core::key::BaselineKey;
use benchkeep_core::model::Run;
use benchkeep_store_s3::{S3Options, S3Store};
use object_store::{ObjectStoreExt, PutPayload};

struct S3Tamper {
    raw: Arc<dyn object_store::ObjectStore>,
    store: S3Store,
}

#[async_trait]
impl Tamper for S3Tamper {
    async fn replace_run_bytes(&self, run: &Run, bytes: &[u8]) {
        let object = self.store.run_object(&run.key, &run.id);
        self.raw
            .put(&object, PutPayload::from(bytes.to_vec()))
            .await
            .unwrap();
    }
    async fn replace_baseline_bytes(&self, key: &BaselineKey, bytes: &[u8]) {
        let object = self.store.baseline_object(key);
        self.raw
            .put(&object, PutPayload::from(bytes.to_vec()))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_store_passes_the_conformance_suite_in_memory() {
    let raw: Arc<dyn object_store::ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let store = S3Store::with_object_store(Arc::clone(&raw), "proj/bench", "memory://proj/bench");
    conformance::run_all(
        &store,
        &S3Tamper {
            raw,
            store: store.clone(),
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_store_passes_the_conformance_suite_on_a_real_server() {
    let Ok(endpoint) = std::env::var("BENCHKEEP_S3_TEST_ENDPOINT") else {
        assert!(
            std::env::var("BENCHKEEP_REQUIRE_S3").as_deref() != Ok("1"),
            "BENCHKEEP_REQUIRE_S3=1 but BENCHKEEP_S3_TEST_ENDPOINT is not set"
        );
        eprintln!("skipped: no S3 test server (set BENCHKEEP_S3_TEST_ENDPOINT)");
        return;
    };
    let bucket =
        std::env::var("BENCHKEEP_S3_TEST_BUCKET").unwrap_or_else(|_| "benchkeep-test".into());
    let prefix = format!("conformance-{}", std::process::id());
    let options = S3Options::from_url(&format!(
        "{bucket}/{prefix}?endpoint={endpoint}&allow_http=true"
    ))
    .unwrap();
    let store = S3Store::open(&options).expect("the S3 test server is reachable");
    let raw: Arc<dyn object_store::ObjectStore> = Arc::new(
        object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_endpoint(&endpoint)
            .with_allow_http(true)
            .build()
            .unwrap(),
    );
    let tamper = S3Tamper {
        raw,
        store: S3Store::with_object_store(
            Arc::new(object_store::memory::InMemory::new()),
            &prefix,
            "paths only",
        ),
    };
    conformance::run_all(&store, &tamper).await;
}
