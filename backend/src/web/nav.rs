//! The one header every broker page shows (and the web app's index.html
//! copies): the product name linking home, the account page, the web app, the
//! audit trail for admins, and Sign out.

use super::session::SessionData;

/// Which header link is the page being shown (`aria-current="page"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Here {
    Account,
    Audit,
    Other,
}

/// What the header needs to know about the person.
pub struct Nav {
    pub signed_in: bool,
    pub is_admin: bool,
    pub csrf_token: String,
    pub here: Here,
}

impl Nav {
    pub fn signed_out() -> Self {
        Self {
            signed_in: false,
            is_admin: false,
            csrf_token: String::new(),
            here: Here::Other,
        }
    }

    pub fn for_session(data: &SessionData, here: Here) -> Self {
        Self {
            signed_in: true,
            is_admin: data.is_admin,
            csrf_token: data.csrf_token.clone(),
            here,
        }
    }

    pub fn is(&self, here: &str) -> bool {
        matches!(
            (self.here, here),
            (Here::Account, "account") | (Here::Audit, "audit")
        )
    }
}
