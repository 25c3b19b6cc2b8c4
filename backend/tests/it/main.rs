//! The backend's one integration-test binary: the app on port 0 with a
//! fresh SQLite file per test, real HTTP, real xmlsec.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin;
mod api_types;
mod architecture;
mod audit;
mod aws;
mod browser;
mod c14n;
mod checks;
mod cli;
mod common;
mod corpus;
mod docs;
mod dynamo;
mod faults;
mod hostile;
mod http;
mod interop;
mod lambda;
mod login;
mod logs;
mod moto;
mod postgres;
mod xsw;
