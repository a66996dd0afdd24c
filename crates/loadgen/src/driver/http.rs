//! The HTTP driver: plain HTTP/1.1 (no TLS, so OBI sees every request) through one pooled client.

use std::time::Duration;

use common::rng::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::stats::Outcome;

/// One HTTP request template. `{rand:LO:HI}` in `url` or `body` becomes a seeded integer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpStep {
    #[serde(default = "get")]
    pub method: String,
    pub url: String,
    /// JSON body, sent with `Content-Type: application/json`.
    #[serde(default)]
    pub body: Option<String>,
}

fn get() -> String {
    "GET".into()
}

#[derive(Debug)]
pub struct HttpDriver {
    client: reqwest::Client,
}

impl HttpDriver {
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(1024)
            .build()?;
        Ok(Self { client })
    }

    pub async fn call(&self, step: &HttpStep, rng: &mut SplitMix64, traceparent: &str) -> Outcome {
        let url = super::fill(&step.url, rng);
        let method =
            reqwest::Method::from_bytes(step.method.as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut req = self
            .client
            .request(method, url)
            .header("traceparent", traceparent);
        if let Some(body) = &step.body {
            req = req
                .header("content-type", "application/json")
                .body(super::fill(body, rng));
        }
        match req.send().await {
            Ok(res) => {
                let status = res.status();
                // Read the body so the connection can be reused and the latency includes the transfer.
                let body_ok = res.bytes().await.is_ok();
                if body_ok {
                    Outcome {
                        class: format!("http:{}", status.as_u16()),
                        success: status.is_success(),
                    }
                } else {
                    Outcome {
                        class: "io:body".into(),
                        success: false,
                    }
                }
            }
            Err(e) if e.is_timeout() => Outcome {
                class: "io:timeout".into(),
                success: false,
            },
            Err(e) if e.is_connect() => Outcome {
                class: "io:connect".into(),
                success: false,
            },
            Err(_) => Outcome {
                class: "io:other".into(),
                success: false,
            },
        }
    }
}
