//! The shared test kit, imported whole by every test module.

pub use hookgate_testkit::{
    broker::{Inbox, message_ids},
    gateway::Settings,
    http::{post, post_request},
    names::unique,
    wait::eventually,
};
