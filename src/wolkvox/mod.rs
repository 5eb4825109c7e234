//! Everything that knows about the wolkvox API: the catalogue of reports and dimensions, the HTTP
//! client, the response envelope, tokens, the API's own token count (`api_token_count`, the
//! answer of `token_info`) and the API's errors. No other module speaks HTTP to wolkvox.

pub mod api_token_count;
pub mod body;
pub mod catalog;
pub mod client;
pub mod envelope;
pub mod error;
pub mod token;
pub mod values;

pub use api_token_count::TokenInfo;
pub use client::WolkvoxClient;
pub use error::ApiError;
pub use token::{Token, Tokens};

/// One report row as the API sends it: field name → value. The envelope decoder, the catalogue,
/// row typing and the simulator all speak this one type.
pub type Row = serde_json::Map<String, serde_json::Value>;

/// API text as it may reach a log line (see [`envelope::clean`]).
pub use envelope::clean as envelope_clean;
