//! saml-broker: turns a verified enterprise SAML login into short-lived,
//! scoped AWS credentials, and records every decision.
//!
//! Data flows one way: web -> saml -> (policy -> exchange) -> store/audit -> web.

pub mod audit;
pub mod awssdk;
pub mod clock;
pub mod config;
#[cfg(feature = "dev-idp")]
pub mod devidp;
pub mod exchange;
pub mod ids;
pub mod lambda;
pub mod logging;
pub mod login;
pub mod metrics;
pub mod policy;
pub mod saml;
pub mod startup;
pub mod store;
pub mod text;
pub mod web;
