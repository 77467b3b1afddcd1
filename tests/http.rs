//! The HTTP side: the server-rendered page, the site's files and opt-in directory listings.

mod common;

use common::start_server_with;
use signalroom::server::Config;

/// A site folder with one file in a subfolder, as cargo-leptos lays out `target/site`.
fn site() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "signalroom-site-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(dir.join("pkg/<odd> name.txt"), "file body").unwrap();
    std::fs::write(dir.join("robots.txt"), "User-agent: *").unwrap();
    dir
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

async fn get(url: String) -> (u16, String) {
    let response = reqwest::get(url).await.expect("request");
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_page_is_server_rendered_with_the_tutorials_fields() {
    let server = start_server_with(Config {
        site_root: site(),
        ..Config::default()
    })
    .await;
    let (status, html) = get(format!("http://{}/", server.addr)).await;
    assert_eq!(status, 200);
    for needle in [
        r#"id="username" type="text" value="Chrome""#,
        r#"id="room" type="text" value="112222""#,
        r#"<button id="connect">"#,
        r#"<button id="leave" disabled>"#,
        r#"<textarea id="output""#,
        r#"<textarea id="input" rows="3" disabled>"#,
        r#"<button id="send" disabled>"#,
        "/pkg/signalroom.js",
    ] {
        assert!(html.contains(needle), "page lacks {needle}: {html}");
    }
}

#[tokio::test]
async fn site_files_are_served_and_listings_are_off_by_default() {
    let server = start_server_with(Config {
        site_root: site(),
        ..Config::default()
    })
    .await;
    assert_eq!(
        get(format!("http://{}/robots.txt", server.addr)).await,
        (200, "User-agent: *".into())
    );
    let file = format!("http://{}/pkg/%3Codd%3E%20name.txt", server.addr);
    assert_eq!(get(file).await, (200, "file body".into()));
    assert_eq!(get(format!("http://{}/pkg/", server.addr)).await.0, 404);
    assert_eq!(
        get(format!("http://{}/../Cargo.toml", server.addr)).await.0,
        404
    );
}

#[tokio::test]
async fn listings_when_enabled_show_names_as_text() {
    let config = Config {
        site_root: site(),
        list_directories: true,
        ..Config::default()
    };
    let server = start_server_with(config).await;
    let (status, html) = get(format!("http://{}/pkg/", server.addr)).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"<a href="%3Codd%3E%20name.txt">&lt;odd&gt; name.txt</a>"#),
        "{html}"
    );
    // Files are still files, and the page is still the page.
    let file = format!("http://{}/pkg/%3Codd%3E%20name.txt", server.addr);
    assert_eq!(get(file).await, (200, "file body".into()));
    assert_eq!(get(format!("http://{}/", server.addr)).await.0, 200);
}

#[tokio::test]
async fn the_page_carries_a_nonce_csp_and_safety_headers() {
    let server = start_server_with(Config {
        site_root: site(),
        ..Config::default()
    })
    .await;
    let response = reqwest::get(format!("http://{}/", server.addr))
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (csp, nosniff, referrer) = (
        header("content-security-policy"),
        header("x-content-type-options"),
        header("referrer-policy"),
    );
    assert_eq!(nosniff, "nosniff");
    assert_eq!(referrer, "no-referrer");
    let html = response.text().await.unwrap();

    // The policy's nonce is the one on the page's inline scripts, and nothing else is allowed.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect(&csp);
    assert!(nonce.len() >= 16, "{csp}");
    assert!(
        html.contains(&format!(r#"<script type="module" nonce="{nonce}">"#)),
        "{html}"
    );
    for directive in [
        "default-src 'self'",
        "'wasm-unsafe-eval'",
        "connect-src 'self'",
        "object-src 'none'",
    ] {
        assert!(csp.contains(directive), "{csp} lacks {directive}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");

    // A second page gets a fresh nonce.
    let again = reqwest::get(format!("http://{}/", server.addr))
        .await
        .unwrap();
    let csp_again = again.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(csp, csp_again);
}

async fn handshake_status(server: &common::TestServer, origin: Option<&str>) -> u16 {
    let url = format!("http://{}/socket.io/?EIO=4&transport=polling", server.addr);
    let mut request = reqwest::Client::new().get(url);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn socketio_refuses_foreign_browser_origins() {
    let server = start_server_with(Config::default()).await;
    let own = format!("http://{}", server.addr);
    assert_eq!(
        handshake_status(&server, None).await,
        200,
        "non-browser client"
    );
    assert_eq!(
        handshake_status(&server, Some(&own)).await,
        200,
        "the page's own origin"
    );
    assert_eq!(
        handshake_status(&server, Some("http://localhost:3000")).await,
        200,
        "development"
    );
    assert_eq!(
        handshake_status(&server, Some("https://evil.example")).await,
        403
    );
    assert_eq!(handshake_status(&server, Some("null")).await, 403);
    // Pages and files are not affected.
    let page = reqwest::Client::new()
        .get(format!("http://{}/", server.addr))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
}

#[tokio::test]
async fn allowed_origins_can_be_listed_or_opened() {
    let config = Config {
        allowed_origins: vec!["https://chat.example.com".into()],
        ..Config::default()
    };
    let server = start_server_with(config).await;
    assert_eq!(
        handshake_status(&server, Some("https://chat.example.com")).await,
        200
    );
    assert_eq!(
        handshake_status(&server, Some("https://evil.example")).await,
        403
    );

    let server = start_server_with(Config {
        allowed_origins: vec!["*".into()],
        ..Config::default()
    })
    .await;
    assert_eq!(
        handshake_status(&server, Some("https://evil.example")).await,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_counts_connections_and_rooms() {
    let server = common::start_server().await;
    let idle = common::health(server.addr).await;
    assert_eq!(
        idle,
        serde_json::json!({"status": "ok", "connections": 0, "rooms": 0})
    );

    let mut alice = common::TestClient::connect(&server).await;
    alice.join("a").await;
    alice.join("b").await;
    let busy = common::health(server.addr).await;
    assert_eq!(
        (busy["connections"].as_u64(), busy["rooms"].as_u64()),
        (Some(1), Some(2))
    );

    alice.disconnect().await;
    // The session ends just after the client's disconnect arrives.
    for _ in 0..50 {
        if common::health(server.addr).await == idle {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the closed session was not forgotten");
}

#[tokio::test]
async fn precompressed_files_are_served_to_browsers_that_accept_them() {
    let root = site();
    std::fs::write(root.join("pkg/app.js"), "plain").unwrap();
    std::fs::write(root.join("pkg/app.js.br"), "brotli bytes").unwrap();
    let server = start_server_with(Config {
        site_root: root,
        ..Config::default()
    })
    .await;
    let url = format!("http://{}/pkg/app.js", server.addr);
    let client = reqwest::Client::new();
    let br = client
        .get(&url)
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(br.headers()["content-encoding"], "br");
    assert_eq!(br.bytes().await.unwrap().as_ref(), b"brotli bytes");
    let plain = client.get(&url).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.text().await.unwrap(), "plain");
}
