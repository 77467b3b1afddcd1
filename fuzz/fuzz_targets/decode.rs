//! Any bytes into the decoders that read what peers send: the browser client's frame decoder
//! and the event decoding the server applies to every Socket.IO event. None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use signalroom::client::frame;
use signalroom::protocol::{ClientEvent, ServerEvent};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(frame::Incoming::Event { name, args }) = frame::decode(text) {
        let _ = ServerEvent::decode(&name, &args);
    }
    if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text) {
        if let Some((Value::String(name), args)) = items.split_first() {
            let _ = ClientEvent::decode(name, args);
        }
    }
});
