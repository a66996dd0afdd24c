//! Single-flight: concurrent misses for one key share one upstream call.
//!
//! The first caller for a key creates a `OnceCell` in the map and runs the work; everyone arriving
//! while it runs awaits the same cell. The cell is removed when the work is done, so a *later* miss
//! starts a new flight — which is why the work itself re-checks Redis before calling upstream.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

pub struct Group<T> {
    flights: Mutex<HashMap<String, Arc<OnceCell<T>>>>,
}

impl<T> Default for Group<T> {
    fn default() -> Self {
        Self {
            flights: Mutex::default(),
        }
    }
}

impl<T: Clone> Group<T> {
    /// Runs `work` once for all concurrent callers with the same `key`; returns its result to each.
    pub async fn run<F, Fut>(&self, key: &str, work: F) -> T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let cell = {
            let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(flights.entry(key.to_owned()).or_default())
        };
        let value = cell.get_or_init(work).await.clone();
        // Remove the finished flight, but only if it is still ours (a newer one may have replaced it).
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        if flights.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            flights.remove(key);
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    // Paused time: the sleep only advances once every task is parked, i.e. has joined the flight.
    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_share_one_run() {
        let group = Arc::new(Group::<u32>::default());
        let runs = Arc::new(AtomicU32::new(0));
        let barrier = Arc::new(tokio::sync::Barrier::new(20));
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (group, runs, barrier) = (group.clone(), runs.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    group
                        .run("k", || async {
                            runs.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            7
                        })
                        .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap(), 7);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(group.flights.lock().unwrap().is_empty());
    }
}
