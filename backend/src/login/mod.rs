//! The sign-in, role and credential flows, with no HTTP in them: plain async
//! functions over the store, the verifier, the policy, the exchange, the
//! audit trail and the clock. The web layer (`web`) turns requests into
//! calls here and outcomes into pages or JSON; unit tests call them
//! directly, with an in-memory store and a fake exchange
//! (backend/tests/it/login.rs).
//!
//! - [`Login::start`]: an SP-initiated sign-in (pending request, AuthnRequest).
//! - [`Login::accept`]: a SAMLResponse at the ACS, to a session.
//! - [`Ctx::choose`]: a role chosen on the picker or through the API.
//! - [`Ctx::refresh`]: the current credentials, renewed near expiry.
//! - [`Ctx::logout`].

mod accept;
pub mod cipher;
mod issue;
pub mod session;

pub use accept::{Accepted, AcsInput, LoginError, Next, Started};
pub use issue::{ChooseError, Fresh, IssueError, RefreshError};

use crate::audit::Audit;
use crate::clock::Clock;
use crate::config::Config;
use crate::exchange::Exchange;
use crate::metrics::Metrics;
use crate::policy::Policy;
use crate::saml::Verifier;
use crate::store::Store;
use std::sync::Arc;

/// Who is asking: the request id, client address and user agent that go
/// into every audit event and error.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub request_id: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The values of the configuration the flows use.
#[derive(Debug, Clone)]
pub struct Settings {
    pub sp_entity_id: String,
    pub acs_url: String,
    /// How long an SP-initiated sign-in may take.
    pub pending_ttl: chrono::Duration,
    /// A session ends this long after sign-in whatever the activity.
    pub absolute_timeout: chrono::Duration,
    /// Members of these groups see the audit trail.
    pub admin_groups: Vec<String>,
}

impl Settings {
    pub fn from_config(c: &Config) -> Self {
        Self {
            sp_entity_id: c.sp_entity_id(),
            acs_url: c.acs_url(),
            pending_ttl: crate::config::chrono_duration(c.limits.pending_request_ttl),
            absolute_timeout: crate::config::chrono_duration(c.session.absolute_timeout),
            admin_groups: c.admin.groups.clone(),
        }
    }
}

/// Everything the flows need, built once at start (shared by `serve`, the
/// Lambda entry and the tests).
pub struct Login {
    pub settings: Settings,
    pub verifier: Arc<Verifier>,
    pub policy: Policy,
    pub exchange: Arc<dyn Exchange>,
    pub cipher: cipher::SessionCipher,
    pub store: Store,
    pub audit: Audit,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
}

/// A flow run for one [`Client`].
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub login: &'a Login,
    pub client: &'a Client,
}

impl Login {
    /// The flows for `client`.
    pub fn ctx<'a>(&'a self, client: &'a Client) -> Ctx<'a> {
        Ctx {
            login: self,
            client,
        }
    }
}
