//! Shutdown signals: SIGTERM and Ctrl-C cancel a token that every long-running command hands to
//! its tasks. Handlers are installed synchronously, before any work starts, so a signal can
//! never meet the default disposition (an abrupt kill) once a command is under way.

use tokio_util::sync::CancellationToken;

/// Cancels `token` on Ctrl-C or SIGTERM. The handlers are installed before this returns (not
/// when a task first runs), so a signal arriving right after cannot take the default action.
pub fn watch_signals(token: CancellationToken) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => {},
                _ = interrupt.recv() => {},
            }
            token.cancel();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(wait_then_cancel(token));
    Ok(())
}

/// Cancels `token` on Ctrl-C or SIGTERM.
pub async fn wait_then_cancel(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    token.cancel();
}
