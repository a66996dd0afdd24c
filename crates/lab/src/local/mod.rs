//! The local lab (`just dev`): everything MOP runs, on one machine, without containers.
//!
//! Reading order: [`plan`] (the ports and the state folder: where everything runs and how to reach
//! it), [`process`] (one service process: spawn with its environment, log file, readiness, stop),
//! then [`supervisor`] (start backends with `testkit`'s launchers, create and seed the orders
//! database, start the services, wait until all are ready, stop; and the fault-drill handles the
//! tests use); [`control`] and [`relay`] change a running lab the way the scenarios' actions change
//! the kind lab: stop/start one service or backend, roll a service out with flags, cut one edge.
//! [`broker`] is `lab kafka`: the lab's Kafka broker alone, in the foreground.
//!
//! The backends are started by the very launchers the integration tests use (`testkit`), with a
//! [`testkit::process::Placement`] that pins the standard ports and keeps data and logs in the state
//! folder, and PostgreSQL in [`testkit::postgres::Durability::CrashSafe`] mode so an acknowledged
//! order survives `kill -9` of the database (the fault drill checks exactly that).

pub mod broker;
pub mod control;
pub mod exec;
pub mod plan;
pub mod process;
pub mod relay;
pub mod supervisor;
