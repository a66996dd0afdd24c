//! Integration tests for `gateway`: a real Redis (testkit), a real `catalog` served in-process on
//! 127.0.0.1:0 behind a counting layer (so upstream calls are counted *at the upstream*), and the
//! gateway itself on 127.0.0.1:0, all over real sockets.

mod bulk;
mod outage;
mod reads;
mod replicas;
mod stampede;
mod support;
mod ttl;
mod writes;
