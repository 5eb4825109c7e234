//! A hostile stand-in for the API: answers every request with whatever the test's script says,
//! byte for byte. The simulator models the API as we read it; this server models nothing, so a
//! test built on it cannot share the code's assumptions about what an answer looks like.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as the server saw it: the file (`reports_manager.php`, `information.php`) and the
/// query's parameters.
#[derive(Clone, Debug)]
pub struct Asked {
    pub file: String,
    pub params: HashMap<String, String>,
}

impl Asked {
    pub fn api(&self) -> &str {
        self.params.get("api").map_or("", String::as_str)
    }
    pub fn date_ini(&self) -> &str {
        self.params.get("date_ini").map_or("", String::as_str)
    }
    pub fn date_end(&self) -> &str {
        self.params.get("date_end").map_or("", String::as_str)
    }
}

/// A request's head (request line and headers), read up to its blank line; `None` when the
/// client went away first. Shared by the scripted servers of the tests.
pub async fn request_head(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// What the server answers: an HTTP status and a body.
pub type Script = Box<dyn Fn(&Asked) -> (u16, String) + Send + Sync>;

/// The server: a script that the test can change between runs, and every request it got.
pub struct HostileApi {
    pub base_url: String,
    script: Arc<Mutex<Script>>,
    asked: Arc<Mutex<Vec<Asked>>>,
}

impl HostileApi {
    pub async fn start(script: impl Fn(&Asked) -> (u16, String) + Send + Sync + 'static) -> HostileApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/api/v2/", listener.local_addr().unwrap());
        let script: Arc<Mutex<Script>> = Arc::new(Mutex::new(Box::new(script)));
        let asked: Arc<Mutex<Vec<Asked>>> = Arc::default();
        let (s, a) = (Arc::clone(&script), Arc::clone(&asked));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (script, asked) = (Arc::clone(&s), Arc::clone(&a));
                tokio::spawn(async move {
                    let Some(head) = request_head(&mut socket).await else { return };
                    let line = head.lines().next().unwrap_or_default().to_string();
                    let target = line.split(' ').nth(1).unwrap_or_default();
                    let url = url::Url::parse(&format!("http://x{target}")).unwrap();
                    let file = url.path().rsplit('/').next().unwrap_or_default().to_string();
                    let params = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
                    let request = Asked { file, params };
                    let (status, body) = (script.lock().unwrap())(&request);
                    asked.lock().unwrap().push(request);
                    let head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(body.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        HostileApi { base_url, script, asked }
    }

    /// Answers from now on with `script`.
    pub fn answer(&self, script: impl Fn(&Asked) -> (u16, String) + Send + Sync + 'static) {
        *self.script.lock().unwrap() = Box::new(script);
    }

    /// Every request so far, in order.
    pub fn asked(&self) -> Vec<Asked> {
        self.asked.lock().unwrap().clone()
    }
}

/// `{"code":"200","error":null,"msg":"n records were found","data":rows}` with HTTP 200.
pub fn ok(rows: serde_json::Value) -> (u16, String) {
    let n = rows.as_array().map_or(1, Vec::len);
    let body =
        serde_json::json!({"code": "200", "error": null, "msg": format!("{n} records were found"), "data": rows});
    (200, body.to_string())
}

/// The API's empty answer: HTTP 404 with its envelope.
pub fn empty() -> (u16, String) {
    (404, r#"{"code":"404","error":"NOT FOUND","msg":"0 records were found","data":[]}"#.to_string())
}

/// The real binary pointed at `base_url` and `db_url` (a clean environment, plain logs at
/// `log`), to run with `args`; one attempt per request unless the test says otherwise.
pub fn binary(base_url: &str, db_url: &str, log: &str, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(super::BIN);
    cmd.env_clear()
        .env("WOLKVOX_ETL__WOLKVOX__BASE_URL", base_url)
        .env("WOLKVOX_ETL__WOLKVOX__TOKEN", super::TOKEN)
        .env("WOLKVOX_ETL__WOLKVOX__MAX_ATTEMPTS", "1")
        .env("DATABASE_URL", db_url)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", log)
        .args(args);
    cmd
}

/// Runs `cmd` off the runtime; its output.
pub async fn run(mut cmd: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap()
}
