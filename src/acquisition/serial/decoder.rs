//! The SpikerBox byte-stream decoder: frames of samples, text messages, and every error
//! counted.
//!
//! ## The protocol (Backyard Brains, "SpikerBox USB Communication Guide", R7)
//! - A frame is one sample of every channel, two bytes per sample. The first byte carries the
//!   sample's high bits, the second its low 7 bits; 10-bit devices use 3 bits of the first
//!   byte, 14-bit devices 7. The most significant bit of a byte is the frame flag: set only
//!   on the first byte of a frame.
//! - Text messages sit between frames, wrapped in `FF FF 01 01 80 FF` ... `FF FF 01 01 81 FF`;
//!   a message holds one or more `TYPE:VALUE;` items. `EVNT:n` is a digital event on the
//!   expansion port (a stimulator's sync pulse, on this device); its time is its position in
//!   the stream.
//!
//! ## How the decoder reads it
//! A byte state machine, so decoding byte by byte or in blocks of any size gives the same
//! result, with fixed-size buffers only (no allocation per byte, nothing that can panic on
//! any input; `fuzz/` and the property tests hammer it).
//! - **Escapes first.** Bytes that could begin an escape sequence are held (at most five)
//!   until the sequence completes or fails; a failed match is replayed as ordinary bytes, so
//!   a frame whose first byte happens to be `FF` (a 14-bit value from 16256 up) is still a
//!   frame. `FF FF` cannot occur inside sample data (a frame has at least two bytes and only
//!   its first has the flag), so a complete sequence is never a misread frame.
//! - **Frames are delimited by flags.** A frame runs from a flag byte to the next flag byte
//!   (or escape sequence). It is accepted only if it has exactly `2 x channels` bytes and
//!   every value is within the device's bit depth; otherwise it is dropped and counted as
//!   malformed. So a frame is delivered one byte late (when the next frame's flag arrives),
//!   and a frame that lost or gained a byte is never passed on with wrong values. Non-flag
//!   bytes outside a frame (a reader that starts mid-stream, after an error) are discarded
//!   and counted until the next flag byte: that is the resynchronisation.
//! - **Messages** are collected in a fixed 128-byte buffer. An overlong message (its end
//!   sequence was lost), a message restarted before it ended, an end without a start, and a
//!   payload that is not printable `TYPE:VALUE` items (or an `EVNT` whose value is not a
//!   number) are counted as malformed and nothing of them is delivered. An overlong message
//!   returns the decoder to frame mode, so a lost end sequence costs at most 128 bytes.
//! - **Gaps.** Bytes that were received but did not make a frame or a message after the first
//!   good frame (discarded bytes, dropped frames, an overlong message) mean frames were lost.
//!   Before the next good frame the sink hears `gap(before_frame, lost_frames)` with the
//!   number of frames those bytes would have made (at least one). This is a lower bound: the
//!   protocol has no sequence numbers, so bytes lost in transit without a trace (a whole
//!   block dropped by an overrun) cannot be counted. Errors before the first good frame are
//!   counted but are not a gap (the recording starts at the first good frame).
//! - `EVNT:n` is stamped with the index of the last frame decoded before it (`None` if it came
//!   before the first frame). `FWV`, `HWT`, `HWV` and `BRD` are kept (latest value, up to 32
//!   characters) and, like any other item, passed to the sink.

use std::str;

/// Most channels a frame can have.
pub const MAX_CHANNELS: usize = 8;
/// Longest message payload kept, bytes.
pub const MAX_MESSAGE: usize = 128;
/// Longest stored device text (firmware version etc.), bytes.
pub const MAX_TEXT: usize = 32;

const FLAG: u8 = 0x80;
const ESCAPE_START: [u8; 6] = [0xFF, 0xFF, 0x01, 0x01, 0x80, 0xFF];
const ESCAPE_END: [u8; 6] = [0xFF, 0xFF, 0x01, 0x01, 0x81, 0xFF];

/// A decoder that cannot be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecoderError {
    #[error("a SpikerBox frame has 1 to {MAX_CHANNELS} channels (got {0})")]
    Channels(usize),
    #[error("SpikerBox samples have 10 or 14 bits (got {0})")]
    Bits(u8),
}

/// What the decoder has seen so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecoderCounters {
    /// Bytes fed to the decoder.
    pub bytes: u64,
    /// Frames delivered.
    pub frames: u64,
    /// Non-flag bytes outside any frame, thrown away while resynchronising.
    pub discarded_bytes: u64,
    /// Frames dropped for a wrong byte count or an out-of-range value.
    pub malformed_frames: u64,
    /// Well-formed messages (each may hold several items).
    pub messages: u64,
    /// Messages dropped: overlong, unterminated, stray end, or unreadable items.
    pub malformed_messages: u64,
    /// `EVNT` items delivered.
    pub events: u64,
    /// Gaps reported (places where frames were lost).
    pub gaps: u64,
    /// Frames known to be lost, summed over the gaps (a lower bound).
    pub lost_frames: u64,
}

/// The kind of a message item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// `FWV`: firmware version.
    FirmwareVersion,
    /// `HWT`: hardware type, e.g. `HUMANSB`, `MSBPCDC`.
    HardwareType,
    /// `HWV`: hardware version.
    HardwareVersion,
    /// `BRD`: expansion board type.
    Board,
    /// `EVNT`: a digital event (also delivered through [`FrameSink::event`]).
    Event,
    /// Anything else.
    Other,
}

impl MessageKind {
    fn of(tag: &str) -> Self {
        match tag {
            "FWV" => Self::FirmwareVersion,
            "HWT" => Self::HardwareType,
            "HWV" => Self::HardwareVersion,
            "BRD" => Self::Board,
            "EVNT" => Self::Event,
            _ => Self::Other,
        }
    }
}

/// One `TYPE:VALUE` item of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    /// Index of the last frame decoded before the message.
    pub after_frame: Option<u64>,
    pub kind: MessageKind,
    pub tag: &'a str,
    pub value: &'a str,
}

/// Where decoded data goes. Only `frame` is required.
pub trait FrameSink {
    /// A frame; `index` counts delivered frames from 0; `samples` holds one raw count per
    /// channel.
    fn frame(&mut self, index: u64, samples: &[u16]);
    /// `EVNT:number`, after frame `after_frame` (`None`: before the first frame).
    fn event(&mut self, after_frame: Option<u64>, number: u32) {
        let _ = (after_frame, number);
    }
    /// Every item of a well-formed message, `EVNT` included.
    fn message(&mut self, message: &Message<'_>) {
        let _ = message;
    }
    /// About `lost_frames` frames were lost just before frame `before_frame`.
    fn gap(&mut self, before_frame: u64, lost_frames: u64) {
        let _ = (before_frame, lost_frames);
    }
}

/// A short text from the device, kept without allocation.
#[derive(Clone, Copy, Debug, Default)]
struct Text {
    buf: [u8; MAX_TEXT],
    len: usize,
}

impl Text {
    fn set(&mut self, s: &str) {
        let n = s.len().min(MAX_TEXT);
        self.buf[..n].copy_from_slice(&s.as_bytes()[..n]);
        self.len = n;
    }
    fn get(&self) -> Option<&str> {
        let s = str::from_utf8(self.buf.get(..self.len)?).ok()?;
        (!s.is_empty()).then_some(s)
    }
}

/// Decodes a SpikerBox byte stream. See the module documentation.
#[derive(Clone, Debug)]
pub struct Decoder {
    channels: usize,
    bits: u8,
    frame_bytes: usize,
    max_value: u16,
    in_message: bool,
    escape: [u8; 6],
    escape_len: usize,
    frame: [u8; 2 * MAX_CHANNELS],
    /// Bytes in the current frame (may exceed the buffer; only the count is kept then).
    frame_len: usize,
    in_frame: bool,
    message: [u8; MAX_MESSAGE],
    message_len: usize,
    lost_bytes: u64,
    counters: DecoderCounters,
    firmware_version: Text,
    hardware_type: Text,
    hardware_version: Text,
    board: Text,
}

impl Decoder {
    /// A decoder for frames of `channels` samples of `bits` (10 or 14) bits.
    pub fn new(channels: usize, bits: u8) -> Result<Self, DecoderError> {
        if channels == 0 || channels > MAX_CHANNELS {
            return Err(DecoderError::Channels(channels));
        }
        if bits != 10 && bits != 14 {
            return Err(DecoderError::Bits(bits));
        }
        Ok(Self {
            channels,
            bits,
            frame_bytes: 2 * channels,
            max_value: (1u16 << bits) - 1,
            in_message: false,
            escape: [0; 6],
            escape_len: 0,
            frame: [0; 2 * MAX_CHANNELS],
            frame_len: 0,
            in_frame: false,
            message: [0; MAX_MESSAGE],
            message_len: 0,
            lost_bytes: 0,
            counters: DecoderCounters::default(),
            firmware_version: Text::default(),
            hardware_type: Text::default(),
            hardware_version: Text::default(),
            board: Text::default(),
        })
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    pub fn bits(&self) -> u8 {
        self.bits
    }

    pub fn counters(&self) -> DecoderCounters {
        self.counters
    }

    /// True while inside a message (between its start and end sequences).
    pub fn in_message(&self) -> bool {
        self.in_message
    }

    /// Latest `FWV` value.
    pub fn firmware_version(&self) -> Option<&str> {
        self.firmware_version.get()
    }

    /// Latest `HWT` value.
    pub fn hardware_type(&self) -> Option<&str> {
        self.hardware_type.get()
    }

    /// Latest `HWV` value.
    pub fn hardware_version(&self) -> Option<&str> {
        self.hardware_version.get()
    }

    /// Latest `BRD` value.
    pub fn board(&self) -> Option<&str> {
        self.board.get()
    }

    /// Decodes `bytes`, delivering frames, messages, events and gaps to `out` in stream
    /// order. Never allocates or panics.
    pub fn decode(&mut self, bytes: &[u8], out: &mut impl FrameSink) {
        for &b in bytes {
            self.push(b, out);
        }
    }

    /// End of the stream: delivers the last frame if it is complete (normally it waits for
    /// the next frame's flag byte) and gives up on a half-received escape sequence.
    pub fn finish(&mut self, out: &mut impl FrameSink) {
        let held = self.escape;
        let n = self.escape_len.min(held.len());
        self.escape_len = 0;
        for &b in &held[..n] {
            self.pass(b, out);
        }
        if !self.in_message {
            self.end_frame(out);
        }
    }

    /// One byte through the escape matcher.
    fn push(&mut self, byte: u8, out: &mut impl FrameSink) {
        self.counters.bytes += 1;
        // Bytes still to examine. At most 6 are ever pending (held escape bytes plus this
        // one, and every failed match gives one byte up), so the fixed queue cannot fill.
        let mut queue = [0u8; 8];
        let mut len = 1;
        queue[0] = byte;
        let mut i = 0;
        while i < len {
            let b = queue[i];
            i += 1;
            if self.escape_len == 0 && b != 0xFF {
                self.pass(b, out);
                continue;
            }
            if escape_matches(self.escape_len, b) {
                if let Some(slot) = self.escape.get_mut(self.escape_len) {
                    *slot = b;
                }
                self.escape_len += 1;
                if self.escape_len == ESCAPE_START.len() {
                    self.escape_len = 0;
                    self.on_escape(self.escape[4] == ESCAPE_START[4], out);
                }
                continue;
            }
            // Mismatch: the first held byte was an ordinary byte; examine the rest again.
            let held = self.escape;
            let n = self.escape_len.min(held.len());
            self.escape_len = 0;
            self.pass(held[0], out);
            let mut next = [0u8; 8];
            let mut m = 0;
            let rest = held.get(1..n).unwrap_or(&[]);
            for &r in rest
                .iter()
                .chain(std::iter::once(&b))
                .chain(queue.get(i..len).unwrap_or(&[]))
            {
                if let Some(slot) = next.get_mut(m) {
                    *slot = r;
                    m += 1;
                }
            }
            queue = next;
            len = m;
            i = 0;
        }
    }

    /// An ordinary byte (not part of an escape sequence).
    fn pass(&mut self, b: u8, out: &mut impl FrameSink) {
        if self.in_message {
            self.message_byte(b, out);
        } else {
            self.frame_byte(b, out);
        }
    }

    fn frame_byte(&mut self, b: u8, out: &mut impl FrameSink) {
        if b & FLAG != 0 {
            self.end_frame(out);
            self.in_frame = true;
            self.frame_len = 0;
        } else if !self.in_frame {
            self.counters.discarded_bytes += 1;
            self.lose(1);
            return;
        }
        if let Some(slot) = self.frame.get_mut(self.frame_len) {
            *slot = b;
        }
        self.frame_len = self.frame_len.saturating_add(1);
    }

    /// The current frame is over (a flag byte or an escape sequence follows).
    fn end_frame(&mut self, out: &mut impl FrameSink) {
        if !self.in_frame {
            return;
        }
        self.in_frame = false;
        let mut samples = [0u16; MAX_CHANNELS];
        let mut ok = self.frame_len == self.frame_bytes;
        if ok {
            for (s, pair) in samples
                .iter_mut()
                .zip(self.frame[..self.frame_bytes].chunks_exact(2))
            {
                let v = (u16::from(pair[0] & 0x7F) << 7) | u16::from(pair[1] & 0x7F);
                ok &= v <= self.max_value;
                *s = v;
            }
        }
        if !ok {
            self.counters.malformed_frames += 1;
            self.lose(self.frame_len as u64);
            return;
        }
        if self.lost_bytes > 0 {
            let fb = self.frame_bytes as u64;
            let lost = ((self.lost_bytes + fb / 2) / fb).max(1);
            self.lost_bytes = 0;
            self.counters.gaps += 1;
            self.counters.lost_frames += lost;
            out.gap(self.counters.frames, lost);
        }
        out.frame(self.counters.frames, &samples[..self.channels]);
        self.counters.frames += 1;
    }

    /// Received bytes that made nothing: frames were lost (once the recording has begun).
    fn lose(&mut self, bytes: u64) {
        if self.counters.frames > 0 {
            self.lost_bytes = self.lost_bytes.saturating_add(bytes);
        }
    }

    fn on_escape(&mut self, start: bool, out: &mut impl FrameSink) {
        match (self.in_message, start) {
            (false, true) => {
                self.end_frame(out);
                self.in_message = true;
                self.message_len = 0;
            }
            (false, false) => {
                // An end without a start: the start was lost, the text went by as frame bytes.
                self.end_frame(out);
                self.counters.malformed_messages += 1;
            }
            (true, true) => {
                // The previous message never ended.
                self.counters.malformed_messages += 1;
                self.message_len = 0;
            }
            (true, false) => {
                self.in_message = false;
                self.finish_message(out);
            }
        }
    }

    fn message_byte(&mut self, b: u8, out: &mut impl FrameSink) {
        if let Some(slot) = self.message.get_mut(self.message_len) {
            *slot = b;
            self.message_len += 1;
            return;
        }
        // Overlong: the end sequence was lost. Give up and read frames again.
        self.counters.malformed_messages += 1;
        self.lose(self.message_len as u64 + ESCAPE_START.len() as u64);
        self.in_message = false;
        self.message_len = 0;
        self.frame_byte(b, out);
    }

    fn finish_message(&mut self, out: &mut impl FrameSink) {
        let len = self.message_len.min(MAX_MESSAGE);
        self.message_len = 0;
        let payload = self.message;
        let Some(text) = payload.get(..len).and_then(|p| str::from_utf8(p).ok()) else {
            self.counters.malformed_messages += 1;
            return;
        };
        let items = || text.split(';').map(|i| i.trim()).filter(|i| !i.is_empty());
        let valid = text
            .bytes()
            .all(|c| c == b'\t' || c == b'\r' || c == b'\n' || (32..127).contains(&c))
            && items().next().is_some()
            && items().all(|item| match item.split_once(':') {
                Some((tag, value)) => {
                    let tag = tag.trim();
                    !tag.is_empty()
                        && tag.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                        && (tag != "EVNT" || parse_event(value).is_some())
                }
                None => false,
            });
        if !valid {
            self.counters.malformed_messages += 1;
            return;
        }
        self.counters.messages += 1;
        let after_frame = self.counters.frames.checked_sub(1);
        for item in items() {
            let Some((tag, value)) = item.split_once(':') else {
                continue;
            };
            let (tag, value) = (tag.trim(), value.trim());
            let kind = MessageKind::of(tag);
            match kind {
                MessageKind::FirmwareVersion => self.firmware_version.set(value),
                MessageKind::HardwareType => self.hardware_type.set(value),
                MessageKind::HardwareVersion => self.hardware_version.set(value),
                MessageKind::Board => self.board.set(value),
                MessageKind::Event | MessageKind::Other => {}
            }
            out.message(&Message {
                after_frame,
                kind,
                tag,
                value,
            });
            if let (MessageKind::Event, Some(n)) = (kind, parse_event(value)) {
                self.counters.events += 1;
                out.event(after_frame, n);
            }
        }
    }
}

fn escape_matches(pos: usize, b: u8) -> bool {
    match pos {
        4 => b == ESCAPE_START[4] || b == ESCAPE_END[4],
        _ => ESCAPE_START.get(pos) == Some(&b),
    }
}

fn parse_event(value: &str) -> Option<u32> {
    let v = value.trim();
    if v.is_empty() || v.len() > 9 || !v.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Appends the bytes a device sends for one frame of raw counts (values are masked to 14
/// bits). For tests and device emulators.
pub fn encode_frame(samples: &[u16], out: &mut Vec<u8>) {
    for (i, &v) in samples.iter().enumerate() {
        let hi = ((v >> 7) & 0x7F) as u8;
        out.push(if i == 0 { hi | FLAG } else { hi });
        out.push((v & 0x7F) as u8);
    }
}

/// Appends the bytes a device sends for a message with `payload` (e.g. `"EVNT:1;"`). For
/// tests and device emulators.
pub fn encode_message(payload: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&ESCAPE_START);
    out.extend_from_slice(payload.as_bytes());
    out.extend_from_slice(&ESCAPE_END);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug, PartialEq)]
    enum Rec {
        Frame(u64, Vec<u16>),
        Event(Option<u64>, u32),
        Message(Option<u64>, MessageKind, String, String),
        Gap(u64, u64),
    }

    #[derive(Default)]
    struct Recorder(Vec<Rec>);

    impl FrameSink for Recorder {
        fn frame(&mut self, index: u64, samples: &[u16]) {
            self.0.push(Rec::Frame(index, samples.to_vec()));
        }
        fn event(&mut self, after: Option<u64>, n: u32) {
            self.0.push(Rec::Event(after, n));
        }
        fn message(&mut self, m: &Message<'_>) {
            let (t, v) = (m.tag.to_string(), m.value.to_string());
            self.0.push(Rec::Message(m.after_frame, m.kind, t, v));
        }
        fn gap(&mut self, before: u64, lost: u64) {
            self.0.push(Rec::Gap(before, lost));
        }
    }

    impl Recorder {
        fn frames(&self) -> Vec<Vec<u16>> {
            self.0
                .iter()
                .filter_map(|r| {
                    if let Rec::Frame(_, s) = r {
                        Some(s.clone())
                    } else {
                        None
                    }
                })
                .collect()
        }
    }

    fn decode_all(channels: usize, bits: u8, bytes: &[u8]) -> (Recorder, Decoder) {
        let mut d = Decoder::new(channels, bits).unwrap();
        let mut r = Recorder::default();
        d.decode(bytes, &mut r);
        d.finish(&mut r);
        (r, d)
    }

    #[test]
    fn known_bytes_decode_to_known_values() {
        // 512 = 4 << 7: first byte 0x84 (flag + 4), second 0x00; 1023 = 7 << 7 | 0x7F.
        let (r, d) = decode_all(2, 10, &[0x84, 0x00, 0x07, 0x7F, 0x80, 0x01, 0x00, 0x00]);
        assert_eq!(r.frames(), vec![vec![512, 1023], vec![1, 0]]);
        assert_eq!(d.counters().frames, 2);
        // 14-bit: 16383 = 0x7F << 7 | 0x7F, whose first byte is 0xFF.
        let (r, _) = decode_all(1, 14, &[0xFF, 0x7F, 0xC0, 0x00, 0xFF, 0x00]);
        assert_eq!(r.frames(), vec![vec![16383], vec![8192], vec![16256]]);
    }

    #[test]
    fn events_are_stamped_with_the_frame_before_them() {
        let mut s = Vec::new();
        encode_message("FWV:1.06;HWT:MSBPCDC;", &mut s);
        encode_frame(&[1, 2], &mut s);
        encode_frame(&[3, 4], &mut s);
        encode_message("EVNT:3;", &mut s);
        encode_frame(&[5, 6], &mut s);
        encode_message(" EVNT:1 ; BRD:4;", &mut s);
        let (r, d) = decode_all(2, 10, &s);
        let msg = |a, k, t: &str, v: &str| Rec::Message(a, k, t.into(), v.into());
        assert_eq!(
            r.0,
            vec![
                msg(None, MessageKind::FirmwareVersion, "FWV", "1.06"),
                msg(None, MessageKind::HardwareType, "HWT", "MSBPCDC"),
                Rec::Frame(0, vec![1, 2]),
                Rec::Frame(1, vec![3, 4]),
                msg(Some(1), MessageKind::Event, "EVNT", "3"),
                Rec::Event(Some(1), 3),
                Rec::Frame(2, vec![5, 6]),
                msg(Some(2), MessageKind::Event, "EVNT", "1"),
                Rec::Event(Some(2), 1),
                msg(Some(2), MessageKind::Board, "BRD", "4"),
            ]
        );
        assert_eq!(d.firmware_version(), Some("1.06"));
        assert_eq!(d.hardware_type(), Some("MSBPCDC"));
        assert_eq!(d.board(), Some("4"));
        assert_eq!(d.hardware_version(), None);
        let c = d.counters();
        assert_eq!(
            (c.messages, c.events, c.malformed_messages, c.gaps),
            (3, 2, 0, 0)
        );
    }

    #[test]
    fn a_reader_starting_mid_stream_resynchronises_without_a_gap() {
        let mut s = vec![0x05, 0x11, 0x22]; // tail of a frame
        encode_frame(&[100, 200], &mut s);
        encode_frame(&[300, 400], &mut s);
        let (r, d) = decode_all(2, 10, &s);
        assert_eq!(r.frames(), vec![vec![100, 200], vec![300, 400]]);
        let c = d.counters();
        assert_eq!((c.discarded_bytes, c.malformed_frames, c.gaps), (3, 0, 0));
    }

    #[test]
    fn a_lost_byte_drops_its_frame_and_reports_a_gap() {
        let mut s = Vec::new();
        for i in 0..5u16 {
            let mut f = Vec::new();
            encode_frame(&[i, 1000 - i, 7], &mut f);
            if i == 2 {
                f.remove(3); // lose a byte inside frame 2
            }
            s.extend(f);
        }
        let (r, d) = decode_all(3, 10, &s);
        assert_eq!(
            r.frames(),
            vec![
                vec![0, 1000, 7],
                vec![1, 999, 7],
                vec![3, 997, 7],
                vec![4, 996, 7]
            ]
        );
        assert!(r.0.contains(&Rec::Gap(2, 1)), "{:?}", r.0);
        let c = d.counters();
        assert_eq!((c.malformed_frames, c.gaps, c.lost_frames), (1, 1, 1));
    }

    #[test]
    fn a_lost_flag_byte_costs_two_frames() {
        let mut s = Vec::new();
        for i in 0..4u16 {
            encode_frame(&[i, i], &mut s);
        }
        s.remove(8); // the flag byte of frame 2: frames 1 and 2 run together
        let (r, d) = decode_all(2, 14, &s);
        assert_eq!(r.frames(), vec![vec![0, 0], vec![3, 3]]);
        assert!(r.0.contains(&Rec::Gap(1, 2)), "{:?}", r.0);
        assert_eq!(d.counters().malformed_frames, 1);
    }

    #[test]
    fn out_of_range_values_and_bad_messages_are_counted() {
        let mut s = Vec::new();
        encode_frame(&[1, 1], &mut s);
        encode_frame(&[2000, 1], &mut s); // above 10 bits
        encode_message("EVNT:x;", &mut s);
        encode_message("no colon", &mut s);
        encode_message("", &mut s);
        s.extend_from_slice(&ESCAPE_END); // end without start
        encode_message(&"A".repeat(MAX_MESSAGE + 10), &mut s); // overlong
        encode_frame(&[3, 3], &mut s);
        s.extend_from_slice(&ESCAPE_START); // start, then another start
        encode_message("EVNT:2;", &mut s);
        encode_frame(&[4, 4], &mut s);
        let (r, d) = decode_all(2, 10, &s);
        assert_eq!(r.frames(), vec![vec![1, 1], vec![3, 3], vec![4, 4]]);
        assert!(r.0.contains(&Rec::Event(Some(1), 2)));
        let c = d.counters();
        assert_eq!(c.malformed_frames, 1);
        // EVNT:x, no colon, empty, stray end, overlong, the overlong one's end (now stray),
        // and the message restarted before it ended.
        assert_eq!(c.malformed_messages, 7, "{c:?}");
        assert_eq!((c.messages, c.events), (1, 1));
    }

    #[test]
    fn a_failed_escape_is_replayed_as_frame_bytes() {
        // 14-bit, 2 channels: a frame starting FF 01 01 (values 16257, 128+x) right after an
        // inserted FF: "FF FF 01 01" looks like an escape until the fifth byte.
        let mut s = Vec::new();
        encode_frame(&[5, 5], &mut s);
        s.push(0xFF);
        encode_frame(&[16257, 129], &mut s);
        encode_frame(&[6, 6], &mut s);
        let (r, d) = decode_all(2, 14, &s);
        assert_eq!(r.frames(), vec![vec![5, 5], vec![16257, 129], vec![6, 6]]);
        assert_eq!(d.counters().malformed_frames, 1); // the lone FF
    }

    #[test]
    fn bad_shapes_are_refused() {
        assert_eq!(Decoder::new(0, 10).unwrap_err(), DecoderError::Channels(0));
        assert_eq!(Decoder::new(9, 10).unwrap_err(), DecoderError::Channels(9));
        assert_eq!(Decoder::new(2, 12).unwrap_err(), DecoderError::Bits(12));
    }

    /// A stream of frames and messages, as units, with what the decoder must deliver.
    #[derive(Clone, Debug)]
    enum Unit {
        Frame(Vec<u16>),
        Event(u32),
        Text(String),
    }

    fn units(channels: usize, bits: u8) -> impl Strategy<Value = Vec<Unit>> {
        let max = (1u16 << bits) - 1;
        let frame = prop::collection::vec(0..=max, channels).prop_map(Unit::Frame);
        let unit = prop_oneof![
            8 => frame,
            1 => (0u32..10).prop_map(Unit::Event),
            1 => "(FWV|HWT|HWV|BRD|XYZ):[A-Z0-9.]{1,8};".prop_map(Unit::Text),
        ];
        prop::collection::vec(unit, 0..300)
    }

    fn encode(units: &[Unit]) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
        let mut s = Vec::new();
        let mut spans = Vec::new();
        for u in units {
            let start = s.len();
            match u {
                Unit::Frame(v) => encode_frame(v, &mut s),
                Unit::Event(n) => encode_message(&format!("EVNT:{n};"), &mut s),
                Unit::Text(t) => encode_message(t, &mut s),
            }
            spans.push(start..s.len());
        }
        (s, spans)
    }

    fn shape() -> impl Strategy<Value = (usize, u8)> {
        (1..=MAX_CHANNELS, prop_oneof![Just(10u8), Just(14u8)])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn any_bytes_never_panic_and_blocks_equal_bytes(
            (channels, bits) in shape(),
            bytes in prop::collection::vec(any::<u8>(), 0..2000),
            cuts in prop::collection::vec(1usize..64, 1..50),
        ) {
            let (whole, d1) = decode_all(channels, bits, &bytes);
            let mut d = Decoder::new(channels, bits).unwrap();
            let mut r = Recorder::default();
            let (mut pos, mut k) = (0, 0);
            while pos < bytes.len() {
                let n = cuts[k % cuts.len()].min(bytes.len() - pos);
                d.decode(&bytes[pos..pos + n], &mut r);
                pos += n;
                k += 1;
            }
            d.finish(&mut r);
            prop_assert_eq!(&r.0, &whole.0);
            prop_assert_eq!(d.counters(), d1.counters());
            let c = d1.counters();
            prop_assert_eq!(c.bytes, bytes.len() as u64);
            prop_assert_eq!(c.frames as usize, whole.frames().len());
        }

        #[test]
        fn intact_streams_decode_exactly(
            ((channels, bits), stream) in shape().prop_flat_map(|s| (Just(s), units(s.0, s.1))),
        ) {
            let (bytes, _) = encode(&stream);
            let (r, d) = decode_all(channels, bits, &bytes);
            let mut expected = Vec::new();
            let mut frames = 0u64;
            for u in &stream {
                match u {
                    Unit::Frame(v) => {
                        expected.push(Rec::Frame(frames, v.clone()));
                        frames += 1;
                    }
                    Unit::Event(n) => expected.push(Rec::Event(frames.checked_sub(1), *n)),
                    Unit::Text(_) => {}
                }
            }
            let got: Vec<Rec> =
                r.0.into_iter().filter(|x| !matches!(x, Rec::Message(..))).collect();
            prop_assert_eq!(got, expected);
            let c = d.counters();
            prop_assert_eq!(
                (c.discarded_bytes, c.malformed_frames, c.malformed_messages, c.gaps),
                (0, 0, 0, 0)
            );
        }

        #[test]
        fn after_damage_every_intact_frame_is_decoded(
            ((channels, bits), stream) in shape().prop_flat_map(|s| (Just(s), units(s.0, s.1))),
            damage in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 0..12),
        ) {
            let (bytes, spans) = encode(&stream);
            prop_assume!(!spans.is_empty());
            // At most one change per unit: delete a byte, replace it, or insert after it.
            let mut touched = vec![None; spans.len()];
            for (at, kind, value) in &damage {
                let u = at.index(spans.len());
                let span = spans[u].clone();
                let pos = span.start + at.index(span.len());
                touched[u] = Some((pos, *kind, *value));
            }
            let mut damaged = Vec::new();
            for (i, &b) in bytes.iter().enumerate() {
                let unit = spans.iter().position(|s| s.contains(&i)).unwrap();
                match touched[unit] {
                    Some((pos, 0, _)) if pos == i => {}
                    Some((pos, 1, v)) if pos == i => damaged.push(v),
                    Some((pos, 2, v)) if pos == i => damaged.extend([b, v]),
                    _ => damaged.push(b),
                }
            }
            let (r, d) = decode_all(channels, bits, &damaged);
            // An intact frame: untouched, its successor's first byte untouched, and no damaged
            // message shortly before it (a lost end sequence swallows up to 128 bytes).
            let first_byte_damaged = |u: usize| {
                matches!(touched.get(u), Some(Some((pos, k, _))) if *pos == spans[u].start && *k < 2)
            };
            let mut expected = Vec::new();
            for (u, unit) in stream.iter().enumerate() {
                let Unit::Frame(v) = unit else { continue };
                let swallowed = (0..u).any(|m| {
                    touched[m].is_some()
                        && !matches!(stream[m], Unit::Frame(_))
                        && spans[u].start < spans[m].end + MAX_MESSAGE + 16
                });
                if touched[u].is_none() && !first_byte_damaged(u + 1) && !swallowed {
                    expected.push(v.clone());
                }
            }
            let got = r.frames();
            let mut it = got.iter();
            for e in &expected {
                prop_assert!(it.any(|g| g == e), "intact frame {:?} missing", e);
            }
            // One byte lost from one frame, and nothing else: it must show in the counters.
            // (Two losses can cancel out: the tail of one frame and the head of the next make
            // a frame of the right length, which no reader of this protocol can tell.)
            let damaged: Vec<usize> = (0..spans.len()).filter(|&u| touched[u].is_some()).collect();
            let lost_a_frame_byte = damaged.len() == 1
                && matches!(stream[damaged[0]], Unit::Frame(_))
                && matches!(touched[damaged[0]], Some((_, 0, _)));
            if lost_a_frame_byte {
                let c = d.counters();
                prop_assert!(c.malformed_frames + c.discarded_bytes + c.malformed_messages > 0);
            }
        }
    }
}
