//! The user directory: deterministic demo users with argon2id password hashes, and password checks
//! that cost what a real login costs without blocking the async runtime.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::config::Argon2Args;

/// The role that may watch the security event stream.
pub const ADMIN_ROLE: &str = "admin";

/// An account. `Debug` leaves out the password hash: hashes are not for logs.
#[derive(Clone)]
pub struct User {
    /// Stable id (UUID text form).
    pub id: String,
    /// Login name.
    pub name: String,
    /// Granted roles.
    pub roles: Vec<String>,
    password_hash: String,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl User {
    /// Whether the user holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Name and password of demo user `n` (1-based): `user-0001` / `pass-0001`.
pub fn demo_credentials(n: u32) -> (String, String) {
    (format!("user-{n:04}"), format!("pass-{n:04}"))
}

/// All users, by name, plus what is needed to check passwords.
#[derive(Debug)]
pub struct Directory {
    users: HashMap<String, Arc<User>>,
    /// A hash of a random password, verified against when the username is unknown, so "no such user"
    /// takes as long as "wrong password" and response times do not reveal which usernames exist.
    decoy_hash: String,
    /// Bounds concurrent argon2 runs: each holds `memory_kib` of RAM and a CPU for tens of ms, so an
    /// unbounded burst of logins would exhaust memory instead of queueing.
    hashing: Semaphore,
}

/// Argon2 rejected its parameters or a hash; a configuration error, reported at start-up.
#[derive(Debug, thiserror::Error)]
#[error("argon2: {0}")]
pub struct HashError(String);

fn hasher(args: Argon2Args) -> Result<Argon2<'static>, HashError> {
    let params = Params::new(args.memory_kib, args.iterations, args.parallelism, None)
        .map_err(|e| HashError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash(argon: &Argon2<'_>, password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

impl Directory {
    /// Creates `count` demo users. `user-0001` is an admin; every user has the `user` role.
    ///
    /// Hashing is CPU-bound, so it runs on the blocking pool split into one batch per core: with
    /// default parameters 100 users take well under a second of wall time on 2 cores (release build).
    pub async fn demo(count: u32, args: Argon2Args) -> Result<Self, HashError> {
        let argon = hasher(args)?;
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let ids: Vec<u32> = (1..=count).collect();
        let batch = ids.len().div_ceil(cores).max(1);
        let mut tasks = Vec::new();
        for chunk in ids.chunks(batch) {
            let chunk = chunk.to_vec();
            let argon = argon.clone();
            tasks.push(tokio::task::spawn_blocking(move || {
                chunk
                    .into_iter()
                    .map(|n| demo_user(&argon, n))
                    .collect::<Result<Vec<_>, _>>()
            }));
        }
        let mut users = HashMap::with_capacity(ids.len());
        for task in tasks {
            let batch = task.await.map_err(|e| HashError(e.to_string()))??;
            users.extend(batch.into_iter().map(|u| (u.name.clone(), Arc::new(u))));
        }
        let decoy = uuid::Uuid::new_v4().to_string();
        let decoy_hash = tokio::task::spawn_blocking(move || hash(&argon, &decoy))
            .await
            .map_err(|e| HashError(e.to_string()))??;
        Ok(Self {
            users,
            decoy_hash,
            hashing: Semaphore::new(cores * 2),
        })
    }

    /// Number of users.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Looks a user up by name (no password check).
    pub fn get(&self, name: &str) -> Option<Arc<User>> {
        self.users.get(name).cloned()
    }

    /// Checks `password` for `name`. Returns the user on success, `None` for an unknown user or a
    /// wrong password — after the same amount of work in both cases.
    pub async fn verify(&self, name: &str, password: &str) -> Option<Arc<User>> {
        let user = self.users.get(name).cloned();
        let phc = user
            .as_ref()
            .map_or_else(|| self.decoy_hash.clone(), |u| u.password_hash.clone());
        let password = password.to_owned();
        // The permit is held across the blocking run, so at most `cores * 2` hashes are in flight.
        let _permit = self.hashing.acquire().await.ok()?;
        let ok = tokio::task::spawn_blocking(move || {
            // Parameters come from the PHC string, so hashes made with older settings still verify.
            PasswordHash::new(&phc).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false);
        if ok { user } else { None }
    }
}

fn demo_user(argon: &Argon2<'_>, n: u32) -> Result<User, HashError> {
    let (name, password) = demo_credentials(n);
    let mut roles = vec!["user".to_owned()];
    if n == 1 {
        roles.push(ADMIN_ROLE.to_owned());
    }
    Ok(User {
        // Deterministic, UUID-shaped ids so demo data (and logs) are the same on every start.
        id: format!("00000000-0000-4000-8000-{n:012}"),
        name,
        roles,
        password_hash: hash(argon, &password)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn demo_users_verify_only_with_their_own_password() {
        let dir = Directory::demo(3, Argon2Args::CHEAP).await.unwrap();
        assert_eq!(dir.len(), 3);
        assert!(dir.get("user-0001").unwrap().has_role(ADMIN_ROLE));
        assert!(!dir.get("user-0002").unwrap().has_role(ADMIN_ROLE));
        assert!(dir.verify("user-0002", "pass-0002").await.is_some());
        assert!(dir.verify("user-0002", "pass-0003").await.is_none());
        assert!(dir.verify("nobody", "pass-0002").await.is_none());
        let debug = format!("{:?}", dir.get("user-0001").unwrap());
        assert!(!debug.contains("argon2"), "{debug}");
    }
}
