//! The SAML service provider: SP metadata, AuthnRequests, response
//! verification and claim extraction. Knows nothing of AWS or storage.

pub mod authn;
pub mod claims;
pub mod metadata;
pub mod quiet;
pub mod verify;
pub mod x509;
pub mod xml;

pub use claims::{Claims, ProviderArn, RoleArn, RoleGrant};
pub use metadata::IdpMetadata;
pub use verify::{Refusal, SamlError, VerifiedAssertion, Verifier, VerifySettings};
