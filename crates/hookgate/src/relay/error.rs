//! [`BrokerError`]: why the relay gave up on a broker connection. Every variant makes the
//! relay reconnect; none loses an event (unconfirmed rows stay in the outbox).

/// A broker failure, one variant per way the connection or a channel can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// Connecting or declaring the topology failed.
    #[error("connecting to the broker: {0}")]
    Connect(#[source] lapin::Error),
    /// Opening a lane's channel or putting it in confirm mode failed.
    #[error("opening a confirm channel: {0}")]
    Channel(#[source] lapin::Error),
    /// `basic.publish` failed (the channel or connection is gone).
    #[error("publishing: {0}")]
    Publish(#[source] lapin::Error),
    /// Waiting for a publisher confirm failed.
    #[error("awaiting a publisher confirm: {0}")]
    Confirm(#[source] lapin::Error),
    /// The broker did not confirm within the relay's confirm timeout.
    #[error("publisher confirm timed out")]
    ConfirmTimeout,
    /// A lane's channel is no longer connected.
    #[error("channel closed")]
    ChannelClosed,
    /// Another lane of the same connection failed, so this one stopped too.
    #[error("another lane lost the connection")]
    LaneLost,
    /// A lane task panicked.
    #[error("relay lane panicked")]
    LanePanicked,
}
