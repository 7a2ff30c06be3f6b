//! The shared test kit, imported whole by every test module.

pub use hookgate_testkit::{
    AMQP_ADDR, PG_ADDR,
    broker::{Inbox, message_ids},
    gateway::{GROQ_SECRET, Settings, TestApp, spawn_app, spawn_app_with},
    http::{Answer, post, post_request},
    names::unique,
    wait::eventually,
};
