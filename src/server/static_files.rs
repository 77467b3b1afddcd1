//! The site's files (the hydrate bundle, the stylesheet, `public/`), with optional directory
//! listings like the tutorial's serve-index.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;
use tower_http::services::ServeDir;

pub fn service(root: PathBuf, list_directories: bool) -> Router {
    // `cargo leptos build --precompress` writes `.br` and `.gz` beside each bundle file; a
    // browser that accepts them gets the WASM bundle at a third of its size.
    let files = ServeDir::new(&root).precompressed_br().precompressed_gzip();
    if !list_directories {
        return Router::new().fallback_service(files);
    }
    Router::new().fallback(move |req: Request| {
        let (root, files) = (root.clone(), files.clone());
        async move {
            match directory(&root, req.uri().path()) {
                Some(dir) if !dir.join("index.html").exists() => {
                    listing(&dir, req.uri().path()).await
                }
                _ => files
                    .oneshot(req)
                    .await
                    .map(IntoResponse::into_response)
                    .unwrap_or_else(|e| match e {}),
            }
        }
    })
}

/// The folder under `root` that `url_path` names, if it names one. Paths that climb out of the
/// root or are not valid UTF-8 once decoded name nothing.
fn directory(root: &Path, url_path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(url_path)
        .decode_utf8()
        .ok()?;
    let mut dir = root.to_path_buf();
    for component in Path::new(decoded.trim_start_matches('/')).components() {
        match component {
            Component::Normal(part) => dir.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    dir.is_dir().then_some(dir)
}

async fn listing(dir: &Path, url_path: &str) -> Response {
    if !url_path.ends_with('/') {
        let location = format!("{url_path}/");
        return (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, location)],
            Body::empty(),
        )
            .into_response();
    }
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut names = Vec::new();
    while let Ok(Some(entry)) = entries.next_entry().await {
        let is_dir = entry.file_type().await.is_ok_and(|t| t.is_dir());
        let name = entry.file_name().to_string_lossy().into_owned();
        names.push(if is_dir { format!("{name}/") } else { name });
    }
    names.sort();
    let title = escape(url_path);
    let mut html = format!("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body><h1>{title}</h1><ul>");
    if url_path != "/" {
        html.push_str("<li><a href=\"../\">../</a></li>");
    }
    for name in names {
        let href = percent_encoding::utf8_percent_encode(&name, HREF).to_string();
        html.push_str(&format!(
            "<li><a href=\"{href}\">{}</a></li>",
            escape(&name)
        ));
    }
    html.push_str("</ul></body></html>");
    Html(html).into_response()
}

/// Characters escaped in listing links (all but unreserved characters and the trailing `/`).
const HREF: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_never_leaves_the_root() {
        let root = std::env::temp_dir();
        assert_eq!(directory(&root, "/"), Some(root.clone()));
        assert_eq!(directory(&root, "/../"), None);
        assert_eq!(directory(&root, "/%2e%2e/"), None);
        assert_eq!(directory(&root, "/no-such-folder-here/"), None);
    }

    #[test]
    fn escape_makes_names_text() {
        assert_eq!(escape("<b>&\"x\""), "&lt;b&gt;&amp;&quot;x&quot;");
    }
}
