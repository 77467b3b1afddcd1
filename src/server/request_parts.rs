//! Socket.IO requests keep only the request parts the stack reads, in a small buffer of their
//! own.
//!
//! engineioxide keeps a request's parts for as long as its session lives (for
//! `SocketRef::req_parts`), so whatever they hold is paid for by every open connection:
//! - hyper parses the URI and header values as slices of the connection's 16 KiB read buffer,
//!   which a session would keep alive for a few hundred bytes of headers;
//! - a browser sends a dozen headers (cookies, user agent, languages) that nothing here reads
//!   after the handshake, about 1.5 KB per connection.
//!
//! So the URI and the headers in [`KEPT_HEADERS`] are copied into one buffer sized to fit
//! them, and every other header and request extension is dropped before engineioxide sees the
//! request. A handler that needs another header must add it to [`KEPT_HEADERS`].

use axum::body::Bytes;
use axum::http::header::{CONTENT_TYPE, SEC_WEBSOCKET_KEY};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue, Uri};
use hyper::upgrade::OnUpgrade;

/// The headers read once a request reaches socketioxide: engineioxide answers a WebSocket
/// handshake with `Sec-WebSocket-Key` and decodes a polling POST by its `Content-Type`.
/// (The `Origin` check runs before, in `security::refuse_foreign_origin`.)
pub const KEPT_HEADERS: [HeaderName; 2] = [SEC_WEBSOCKET_KEY, CONTENT_TYPE];

/// Rewrites `parts` as its URI and kept headers, sliced from one new buffer, and hyper's
/// upgrade handle (engineioxide takes it to switch to WebSocket) as the only extension.
/// (Header names need no copy: the `http` crate never shares a name's bytes with its input.)
pub fn detach(parts: &mut Parts) {
    let uri = parts.uri.to_string();
    let kept = || {
        KEPT_HEADERS
            .iter()
            .flat_map(|name| parts.headers.get_all(name).iter().map(move |v| (name, v)))
    };
    let size = uri.len() + kept().map(|(_, value)| value.len()).sum::<usize>();
    let mut text = Vec::with_capacity(size);
    text.extend_from_slice(uri.as_bytes());
    for (_, value) in kept() {
        text.extend_from_slice(value.as_bytes());
    }
    let text = Bytes::from(text);

    let mut at = 0;
    let mut take = |len: usize| {
        at += len;
        text.slice(at - len..at)
    };
    // Each slice is a copy of a value that already parsed, so none of these can fail; a part
    // that somehow did is kept as it was rather than dropped.
    let uri = Uri::from_maybe_shared(take(uri.len())).unwrap_or_else(|_| parts.uri.clone());
    let mut headers = HeaderMap::with_capacity(kept().count());
    for (name, value) in kept() {
        let copy = match HeaderValue::from_maybe_shared(take(value.len())) {
            Ok(mut copy) => {
                copy.set_sensitive(value.is_sensitive());
                copy
            }
            Err(_) => value.clone(),
        };
        headers.append(name.clone(), copy);
    }
    let mut extensions = Extensions::new();
    if let Some(upgrade) = parts.extensions.remove::<OnUpgrade>() {
        extensions.insert(upgrade);
    }
    parts.uri = uri;
    parts.headers = headers;
    parts.extensions = extensions;
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::OriginalUri;
    use axum::http::Request;

    #[test]
    fn keeps_the_uri_and_the_headers_the_stack_reads() {
        let request = Request::builder()
            .uri("/socket.io/?EIO=4&transport=websocket")
            .header("host", "127.0.0.1:9980")
            .header("cookie", "a=b")
            .header("content-type", "text/plain;charset=UTF-8")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("user-agent", "test")
            .body(())
            .unwrap();
        let (mut parts, ()) = request.into_parts();
        parts.extensions.insert(OriginalUri(parts.uri.clone()));
        let before = parts.clone();

        detach(&mut parts);

        assert_eq!(parts.uri, before.uri);
        assert_eq!(parts.headers.len(), 2);
        for name in KEPT_HEADERS {
            assert_eq!(parts.headers.get(&name), before.headers.get(&name));
        }
        assert!(parts.headers.get("cookie").is_none());
        assert!(parts.extensions.get::<OriginalUri>().is_none());
    }

    #[test]
    fn a_repeated_kept_header_keeps_every_value_in_order() {
        let request = Request::builder()
            .uri("/socket.io/?EIO=4&transport=polling")
            .header("content-type", "a")
            .header("content-type", "b")
            .body(())
            .unwrap();
        let (mut parts, ()) = request.into_parts();
        parts
            .headers
            .get_mut("content-type")
            .unwrap()
            .set_sensitive(true);

        detach(&mut parts);

        let values: Vec<_> = parts.headers.get_all("content-type").iter().collect();
        assert_eq!(values, ["a", "b"]);
        assert!(parts.headers["content-type"].is_sensitive());
    }
}
