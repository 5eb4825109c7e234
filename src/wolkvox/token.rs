//! API tokens and the rule "one request in flight per token".
//!
//! A [`Token`] carries its label (safe to log), its secret (exposed only to build the request
//! header) and a one-permit semaphore shared by every job that uses the same secret. Holding the
//! permit is the right to have a request in flight; jobs sharing a token queue on it, jobs on
//! different tokens proceed in parallel. Two labels for the same secret share one gate, because
//! the API counts by secret, not by our names — in the whole process (two operations configured
//! with the same secret share it too) and across replicas (the cross-replica lock is named after
//! a hash of the secret, never the secret). A [`NamedToken`] is a token as configured (label and
//! secret), before it is given its gate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A named API token. `Debug` shows only the label.
#[derive(Clone)]
pub struct NamedToken {
    /// The label used in logs and config (`default` for `wolkvox.token`).
    pub label: String,
    /// The secret sent in the `wolkvox-token` header.
    pub secret: SecretString,
}

impl std::fmt::Debug for NamedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NamedToken({}: [REDACTED])", self.label)
    }
}

/// A token with its concurrency gate. Cloning shares the gate. `Debug` shows only the label.
#[derive(Clone)]
pub struct Token {
    label: Arc<str>,
    /// A hash of the secret: names the gate in this process and across replicas.
    gate_id: Arc<str>,
    secret: SecretString,
    gate: Arc<Semaphore>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({})", self.label)
    }
}

impl Token {
    /// The label, for logs and metrics.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The name of this token's gate: a hash of its secret, the same for every label and every
    /// operation using that secret, so the gate and the cross-replica lock are per secret, as
    /// the API counts. It does not reveal the secret and is never logged.
    pub fn gate_id(&self) -> &str {
        &self.gate_id
    }

    /// Waits for this token's single in-flight slot. The permit must live until the response
    /// body has been read completely: the API counts a request as in flight until then.
    pub async fn acquire(&self) -> OwnedSemaphorePermit {
        // The semaphore is never closed, so acquiring can only fail on a bug.
        Arc::clone(&self.gate).acquire_owned().await.expect("token semaphores are never closed")
    }

    /// Whether `text` is this token's secret (so a caller can keep it out of what it shows).
    pub(crate) fn is_secret(&self, text: &str) -> bool {
        text == self.secret.expose_secret()
    }

    /// The `wolkvox-token` header value, marked sensitive so no HTTP layer ever prints it.
    pub(crate) fn header_value(&self) -> reqwest::header::HeaderValue {
        match reqwest::header::HeaderValue::from_str(self.secret.expose_secret()) {
            Ok(mut value) => {
                value.set_sensitive(true);
                value
            }
            // A token with characters a header cannot carry: send an empty header, which the
            // API rejects as a missing token (reported without the value).
            Err(_) => reqwest::header::HeaderValue::from_static(""),
        }
    }
}

/// Every configured token by label, with gates shared per distinct secret.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    by_label: HashMap<String, Token>,
}

impl Tokens {
    /// Builds the tokens; each gets the process-wide gate of its secret.
    pub fn new(named: &[NamedToken]) -> Self {
        let by_label = named
            .iter()
            .map(|t| {
                let gate_id = gate_id(t.secret.expose_secret());
                let gate = gate(&gate_id);
                let token =
                    Token { label: t.label.as_str().into(), gate_id: gate_id.into(), secret: t.secret.clone(), gate };
                (t.label.clone(), token)
            })
            .collect();
        Tokens { by_label }
    }

    /// Tokens whose gates are their own, not the process-wide ones: only for tests that show
    /// what happens without the rule (a control must be able to trip the simulator's check).
    #[doc(hidden)]
    pub fn unshared(named: &[NamedToken]) -> Self {
        let by_label = named
            .iter()
            .map(|t| {
                let gate_id = gate_id(t.secret.expose_secret()).into();
                let gate = Arc::new(Semaphore::new(1));
                (t.label.clone(), Token { label: t.label.as_str().into(), gate_id, secret: t.secret.clone(), gate })
            })
            .collect();
        Tokens { by_label }
    }

    /// The token with this label.
    pub fn get(&self, label: &str) -> Option<Token> {
        self.by_label.get(label).cloned()
    }
}

/// A stable name for a secret's gate: FNV-1a of the secret in its own domain, as hex. Stable
/// across processes and versions (replicas must agree), and one-way enough for a lock name.
fn gate_id(secret: &str) -> String {
    format!("{:016x}", crate::hash::fnv1a("wolkvox-etl token gate\0".bytes().chain(secret.bytes())))
}

/// The process-wide one-permit gate of a secret (by its [`gate_id`]): every operation, job and
/// label using the secret queues on the same semaphore.
fn gate(gate_id: &str) -> Arc<Semaphore> {
    static GATES: OnceLock<Mutex<HashMap<String, Arc<Semaphore>>>> = OnceLock::new();
    let mut gates = GATES.get_or_init(Default::default).lock().unwrap_or_else(PoisonError::into_inner);
    Arc::clone(gates.entry(gate_id.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(1))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(label: &str, secret: &str) -> NamedToken {
        NamedToken { label: label.into(), secret: SecretString::from(secret.to_string()) }
    }

    #[tokio::test]
    async fn labels_for_the_same_secret_share_one_gate_and_others_do_not() {
        let tokens = Tokens::new(&[named("a", "s1"), named("alias", "s1"), named("b", "s2")]);
        let a = tokens.get("a").unwrap();
        let _held = a.acquire().await;
        assert_eq!(tokens.get("alias").unwrap().gate.available_permits(), 0);
        assert_eq!(tokens.get("b").unwrap().gate.available_permits(), 1);
    }

    #[tokio::test]
    async fn two_operations_with_the_same_secret_share_one_gate_in_the_process() {
        let acme = Tokens::new(&[named("acme", "shared-secret-1f")]);
        let globex = Tokens::new(&[named("main", "shared-secret-1f")]);
        let _held = acme.get("acme").unwrap().acquire().await;
        assert_eq!(globex.get("main").unwrap().gate.available_permits(), 0);
        assert_eq!(acme.get("acme").unwrap().gate_id(), globex.get("main").unwrap().gate_id());
        assert!(!acme.get("acme").unwrap().gate_id().contains("shared-secret"));
    }

    #[test]
    fn debug_output_shows_the_label_not_the_secret() {
        let tokens = Tokens::new(&[named("main", "super-secret-value")]);
        let text = format!("{:?} {:?}", tokens, tokens.get("main").unwrap());
        assert!(!text.contains("super-secret-value"), "{text}");
        assert!(text.contains("main"));
    }
}
