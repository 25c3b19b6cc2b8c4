//! The development IdP (`saml-broker dev-idp`): a login form over users from
//! a file, issuing ADFS-shaped signed assertions. For demos and tests only.

pub mod keys;
pub mod response;
pub mod server;

pub use keys::SigningKey;
pub use response::ResponseSpec;
