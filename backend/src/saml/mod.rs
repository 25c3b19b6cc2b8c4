//! The SAML service provider: SP metadata, AuthnRequests, response
//! verification and claim extraction. Knows nothing of AWS or storage.

pub mod authn;
pub mod c14n;
pub mod claims;
pub mod dsig;
pub mod metadata;
pub mod verify;
pub mod x509;
pub mod xml;

pub use claims::{Claims, ProviderArn, RoleArn, RoleGrant};
pub use metadata::IdpMetadata;
pub use verify::{Refusal, SamlError, VerifiedAssertion, Verifier, VerifySettings};
