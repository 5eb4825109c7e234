//! Everything that knows about the wolkvox API: the report catalogue, the HTTP client, the
//! response envelope, tokens, the API's own token count (`token_info`) and the API's errors. No
//! other module speaks HTTP to wolkvox.

pub mod catalog;
pub mod client;
pub mod envelope;
pub mod error;
pub mod token;
pub mod token_info;
pub mod values;

pub use client::WolkvoxClient;
pub use error::ApiError;
pub use token::{Token, Tokens};
pub use token_info::TokenInfo;

/// One report row as the API sends it: field name → value. The envelope decoder, the catalogue,
/// row typing and the simulator all speak this one type.
pub type Row = serde_json::Map<String, serde_json::Value>;

/// API text as it may reach a log line (see [`envelope::clean`]).
pub use envelope::clean as envelope_clean;
