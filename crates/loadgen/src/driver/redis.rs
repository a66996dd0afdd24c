//! The Redis driver: GET / SET / MGET / pipelines / PUBLISH over plain RESP through one multiplexed,
//! reconnecting connection per server. The key range is the hit-ratio knob: keys are drawn from
//! `{rand:LO:HI}` templates, so a range larger than what `set` steps have written means more misses.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use common::rng::SplitMix64;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};

use crate::stats::Outcome;

/// Which command(s) a step sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[value(rename_all = "lowercase")]
pub enum Op {
    /// `GET key` → class `redis:HIT` or `redis:MISS` (both successes).
    Get,
    /// `SET key value PX ttl`.
    Set,
    /// `MGET` of `count` keys → `redis:HIT` if any was found, else `redis:MISS`.
    Mget,
    /// A pipeline of `count` `SET`s (one round trip; OBI shows one span per command).
    Pipeline,
    /// `PUBLISH channel value`.
    Publish,
    /// `LPUSH key value`: on a key holding a string this is Redis's `WRONGTYPE` — an expected error.
    Lpush,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisStep {
    /// `redis://host:port/db`.
    pub url: String,
    pub op: Op,
    /// Key template, e.g. `mop:lg:{rand:1:10000}`; the channel for `publish`.
    #[serde(default = "default_key")]
    pub key: String,
    /// Bytes in each value written.
    #[serde(default = "default_size")]
    pub value_size: usize,
    /// Keys per `mget` / commands per `pipeline`.
    #[serde(default = "default_count")]
    pub count: usize,
    /// Expiry of written keys.
    #[serde(default = "default_ttl", with = "humantime_serde")]
    pub ttl: Duration,
}

pub fn default_key() -> String {
    "mop:loadgen:{rand:1:1000}".into()
}
pub fn default_size() -> usize {
    64
}
pub fn default_count() -> usize {
    10
}
pub fn default_ttl() -> Duration {
    Duration::from_secs(60)
}

#[derive(Default)]
pub struct RedisDriver {
    connections: Mutex<HashMap<String, ConnectionManager>>,
}

impl std::fmt::Debug for RedisDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDriver").finish_non_exhaustive()
    }
}

impl RedisDriver {
    fn connection(&self, url: &str) -> redis::RedisResult<ConnectionManager> {
        let mut conns = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = conns.get(url) {
            return Ok(c.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)));
        // Lazy: connects on first use and reconnects by itself, like a long-lived client.
        let c = ConnectionManager::new_lazy_with_config(redis::Client::open(url)?, config)?;
        conns.insert(url.to_owned(), c.clone());
        Ok(c)
    }

    pub async fn call(&self, step: &RedisStep, rng: &mut SplitMix64) -> Outcome {
        match self.call_inner(step, rng).await {
            Ok(class) => Outcome {
                class: format!("redis:{class}").into(),
                success: true,
                stream: None,
            },
            Err(e) => Outcome {
                class: format!("redis:{}", error_class(&e)).into(),
                success: false,
                stream: None,
            },
        }
    }

    async fn call_inner(
        &self,
        step: &RedisStep,
        rng: &mut SplitMix64,
    ) -> redis::RedisResult<&'static str> {
        let mut con = self.connection(&step.url)?;
        let key = |rng: &mut SplitMix64| super::fill(&step.key, rng);
        let value = |rng: &mut SplitMix64| value(step.value_size, rng);
        let ttl_ms = u64::try_from(step.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let hit = |found: bool| if found { "HIT" } else { "MISS" };
        match step.op {
            Op::Get => {
                let v: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(key(rng))
                    .query_async(&mut con)
                    .await?;
                Ok(hit(v.is_some()))
            }
            Op::Set => {
                let (k, v) = (key(rng), value(rng));
                redis::cmd("SET")
                    .arg(k)
                    .arg(v)
                    .arg("PX")
                    .arg(ttl_ms)
                    .query_async::<()>(&mut con)
                    .await?;
                Ok("OK")
            }
            Op::Mget => {
                let keys: Vec<String> = (0..step.count.max(1)).map(|_| key(rng)).collect();
                let values: Vec<Option<Vec<u8>>> =
                    redis::cmd("MGET").arg(keys).query_async(&mut con).await?;
                Ok(hit(values.iter().any(Option::is_some)))
            }
            Op::Pipeline => {
                let mut pipe = redis::pipe();
                for _ in 0..step.count.max(1) {
                    pipe.cmd("SET")
                        .arg(key(rng))
                        .arg(value(rng))
                        .arg("PX")
                        .arg(ttl_ms)
                        .ignore();
                }
                pipe.query_async::<()>(&mut con).await?;
                Ok("OK")
            }
            Op::Publish => {
                let _receivers: i64 = redis::cmd("PUBLISH")
                    .arg(key(rng))
                    .arg(value(rng))
                    .query_async(&mut con)
                    .await?;
                Ok("OK")
            }
            Op::Lpush => {
                let _len: i64 = redis::cmd("LPUSH")
                    .arg(key(rng))
                    .arg(value(rng))
                    .query_async(&mut con)
                    .await?;
                Ok("OK")
            }
        }
    }
}

/// Redis's own error prefix (`WRONGTYPE`, `OOM`, …) or an i/o class.
fn error_class(e: &redis::RedisError) -> String {
    if let Some(code) = e.code() {
        return code.to_owned();
    }
    if e.is_timeout() {
        "io:timeout".into()
    } else if e.is_connection_refusal() || e.is_io_error() || e.is_connection_dropped() {
        "io:connect".into()
    } else {
        "error".into()
    }
}

/// `size` printable bytes from the run's generator.
fn value(size: usize, rng: &mut SplitMix64) -> Vec<u8> {
    (0..size)
        .map(|_| b'a' + u8::try_from(rng.below(26)).unwrap_or(0))
        .collect()
}
