//! Socket.IO requests keep their URI and headers in one small buffer of their own.
//!
//! hyper parses a request's URI and header values as slices of the connection's read buffer
//! (16 KiB), and engineioxide keeps the request's parts for as long as the session lives (for
//! `SocketRef::req_parts`). Every open connection therefore held a whole read buffer for a few
//! hundred bytes of headers: almost half of its heap. Copying the parts out lets hyper free the buffer
//! once the WebSocket upgrade is done.

use axum::body::Bytes;
use axum::extract::{OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Uri};
use axum::middleware::Next;
use axum::response::Response;

/// Middleware: detaches `/socket.io/` requests' parts from hyper's buffer; other requests are
/// short-lived and pass untouched.
pub async fn detach_socketio(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/socket.io") {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    detach(&mut parts);
    next.run(Request::from_parts(parts, body)).await
}

/// Rewrites `parts`'s URI and header values as slices of one new buffer sized to fit them.
/// (Header names need no copy: the `http` crate never shares a name's bytes with its input.)
fn detach(parts: &mut Parts) {
    let uri = parts.uri.to_string();
    let size = uri.len() + parts.headers.values().map(HeaderValue::len).sum::<usize>();
    let mut text = Vec::with_capacity(size);
    text.extend_from_slice(uri.as_bytes());
    for value in parts.headers.values() {
        text.extend_from_slice(value.as_bytes());
    }
    let text = Bytes::from(text);

    let mut at = 0;
    let mut take = |len: usize| {
        at += len;
        text.slice(at - len..at)
    };
    // Each slice is a copy of a value that already parsed, so none of these can fail; a part
    // that somehow did is left as it was rather than dropped.
    if let Ok(copy) = Uri::from_maybe_shared(take(uri.len())) {
        // axum's router records the URI as it arrived too, another slice of the same buffer.
        if let Some(original) = parts.extensions.get_mut::<OriginalUri>() {
            original.0 = if original.0 == copy {
                copy.clone()
            } else {
                Uri::from_maybe_shared(Bytes::from(original.0.to_string())).unwrap_or(copy.clone())
            };
        }
        parts.uri = copy;
    }
    let mut headers = HeaderMap::with_capacity(parts.headers.len());
    for (name, value) in &parts.headers {
        let copy = match HeaderValue::from_maybe_shared(take(value.len())) {
            Ok(mut copy) => {
                copy.set_sensitive(value.is_sensitive());
                copy
            }
            Err(_) => value.clone(),
        };
        headers.append(name.clone(), copy);
    }
    parts.headers = headers;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_keep_every_header_in_order_with_its_value() {
        let request = Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket")
            .header("host", "127.0.0.1:9980")
            .header("x-forwarded-for", "10.0.0.1")
            .header("x-forwarded-for", "10.0.0.2")
            .header("cookie", "a=b")
            .body(())
            .unwrap();
        let (mut parts, ()) = request.into_parts();
        parts.headers.get_mut("cookie").unwrap().set_sensitive(true);
        parts.extensions.insert(OriginalUri(parts.uri.clone()));
        let before = parts.clone();

        detach(&mut parts);

        assert_eq!(parts.uri, before.uri);
        assert_eq!(parts.extensions.get::<OriginalUri>().unwrap().0, before.uri);
        assert_eq!(parts.headers, before.headers);
        let forwarded: Vec<_> = parts.headers.get_all("x-forwarded-for").iter().collect();
        assert_eq!(forwarded, ["10.0.0.1", "10.0.0.2"]);
        assert!(parts.headers["cookie"].is_sensitive());
    }
}
