//! `authd healthcheck`: whether the local server answers `/healthz`, for
//! container health checks.

/// A plain HTTP/1.1 GET of /healthz on the server's own address: the runtime image
/// has no shell or curl, so the binary checks itself.
pub async fn healthcheck(host: &str, port: u16) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A wildcard listener answers on loopback; a specific address only on itself.
    let host = match host {
        "0.0.0.0" | "::" | "[::]" => "127.0.0.1",
        other => other,
    };
    let check = async {
        let mut stream = tokio::net::TcpStream::connect((host, port)).await?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        anyhow::Ok(response.starts_with(b"HTTP/1.1 200"))
    };
    match tokio::time::timeout(std::time::Duration::from_secs(2), check).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => anyhow::bail!("/healthz did not answer 200"),
        Ok(Err(e)) => Err(e.context("/healthz unreachable")),
        Err(_) => anyhow::bail!("/healthz timed out"),
    }
}
