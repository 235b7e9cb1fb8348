//! etcd's simple tokens (`auth/simple_token.go`, `--auth-token simple`):
//! `<16 random letters>.<raft index>`, given by every member when it
//! applies the `Authenticate` entry, so a client may use its token on any
//! member. A token lives `--auth-token-ttl` (300 s) after its last use;
//! tokens are the member's memory only (a restarted member forgets them,
//! as etcd's does), and deleting a user, changing its password or
//! disabling auth takes them back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::Rng;

/// etcd's `--auth-token-ttl` default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
const PREFIX_LEN: usize = 16;
const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The tokens this member gave, by token.
pub struct SimpleTokens {
    ttl_millis: AtomicU64,
    tokens: Mutex<HashMap<String, Given>>,
}

struct Given {
    user: String,
    expires: Instant,
}

impl Default for SimpleTokens {
    fn default() -> Self {
        SimpleTokens {
            ttl_millis: AtomicU64::new(DEFAULT_TTL.as_millis() as u64),
            tokens: Mutex::new(HashMap::new()),
        }
    }
}

impl SimpleTokens {
    /// `--auth-token-ttl`.
    pub fn set_ttl(&self, ttl: Duration) {
        self.ttl_millis
            .store(ttl.as_millis() as u64, Ordering::Relaxed);
    }

    fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_millis.load(Ordering::Relaxed))
    }

    /// A fresh token prefix (etcd's `genTokenPrefix`).
    pub fn prefix() -> String {
        let mut rng = rand::thread_rng();
        (0..PREFIX_LEN)
            .map(|_| LETTERS[rng.gen_range(0..LETTERS.len())] as char)
            .collect()
    }

    /// The token an `Authenticate` applied at raft `index` gives `user`.
    pub fn assign(&self, prefix: &str, index: u64, user: &str) -> String {
        let token = format!("{prefix}.{index}");
        let now = Instant::now();
        let mut tokens = self.tokens.lock();
        // Expired tokens go when new ones come, so the map stays bounded
        // by the tokens alive.
        tokens.retain(|_, g| g.expires > now);
        tokens.insert(
            token.clone(),
            Given {
                user: user.to_string(),
                expires: now + self.ttl(),
            },
        );
        token
    }

    /// The user of a live token, whose life starts again (etcd's
    /// `resetSimpleToken`).
    pub fn user_of(&self, token: &str) -> Option<String> {
        let now = Instant::now();
        let mut tokens = self.tokens.lock();
        match tokens.get_mut(token) {
            Some(g) if g.expires > now => {
                g.expires = now + self.ttl();
                Some(g.user.clone())
            }
            Some(_) => {
                tokens.remove(token);
                None
            }
            None => None,
        }
    }

    /// The raft index a token names (`None`: not a simple token).
    pub fn index_of(token: &str) -> Option<u64> {
        let (_, index) = token.split_once('.')?;
        index.parse().ok()
    }

    /// Every token of `user` is taken back.
    pub fn invalidate_user(&self, user: &str) {
        self.tokens.lock().retain(|_, g| g.user != user);
    }

    /// Every token is taken back (auth disabled).
    pub fn clear(&self) {
        self.tokens.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_live_their_ttl_from_their_last_use() {
        let t = SimpleTokens::default();
        t.set_ttl(Duration::from_millis(200));
        let a = t.assign("abcdefghijklmnop", 7, "alice");
        assert_eq!(a, "abcdefghijklmnop.7");
        assert_eq!(SimpleTokens::index_of(&a), Some(7));
        assert_eq!(t.user_of(&a).as_deref(), Some("alice"));
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(t.user_of(&a), None);
    }

    #[test]
    fn users_and_disable_take_tokens_back() {
        let t = SimpleTokens::default();
        let a = t.assign(&SimpleTokens::prefix(), 1, "alice");
        let b = t.assign(&SimpleTokens::prefix(), 2, "bob");
        t.invalidate_user("alice");
        assert_eq!(t.user_of(&a), None);
        assert_eq!(t.user_of(&b).as_deref(), Some("bob"));
        t.clear();
        assert_eq!(t.user_of(&b), None);
        assert_eq!(SimpleTokens::prefix().len(), PREFIX_LEN);
        assert_eq!(SimpleTokens::index_of("nodot"), None);
    }
}
