//! The backend's one integration-test binary: the app built as `serve`
//! builds it, by default with a fake exchange and the in-memory store (a
//! test opts into moto, SQLite or PostgreSQL: `common::AppOptions`), over
//! real HTTP on port 0 or in process (`oneshot`); real xmlsec.
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
mod oneshot;
mod postgres;
mod xsw;
